#pragma once
// Whole-file reads and crash-safe writes, shared by the checkpoint (npz), dataset
// (idx) and picture (png) code. A write goes to a temporary file in the target's
// directory, is fsync'ed and then renamed over the target, so a reader (or a
// crash) only ever sees the old file or the complete new one, never a mix.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace tapegrad::io {

/// Error from the I/O layer: a missing, corrupt, truncated or unsupported file, or
/// a failed write. The message names the function, the file and what was wrong.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Destination of a writer callback: appends bytes to the file being written.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  /// Appends `size` bytes; throws IoError when the bytes cannot be written.
  virtual void write(const void* data, std::size_t size) = 0;
  /// Appends a byte buffer.
  void write(std::span<const std::uint8_t> bytes) { write(bytes.data(), bytes.size()); }
  /// Bytes appended so far.
  virtual std::uint64_t bytes_written() const = 0;
};

/// ByteSink that collects everything in memory (for in-memory serialisation).
class MemorySink final : public ByteSink {
 public:
  using ByteSink::write;
  void write(const void* data, std::size_t size) override;
  std::uint64_t bytes_written() const override { return bytes_.size(); }
  /// The bytes collected so far.
  const std::vector<std::uint8_t>& bytes() const& { return bytes_; }
  /// Moves the collected bytes out.
  std::vector<std::uint8_t> take() && { return std::move(bytes_); }

 private:
  std::vector<std::uint8_t> bytes_;
};

/// Callback that produces a file's content by writing into the sink.
using FileWriter = std::function<void(ByteSink&)>;

/// Atomically replaces `path` with what `writer` writes: the bytes go to a new,
/// uniquely named temporary file in the same directory, which is fsync'ed and then
/// renamed over `path` (and the directory fsync'ed). If anything fails (the writer
/// throws, the disk is full, the rename is refused) the temporary file is removed,
/// the exception propagates (I/O failures as IoError naming `function` and the
/// path) and a previous file at `path` is left untouched. An existing target's
/// permission bits are kept; a new file gets 0666 minus the umask. A crash (kill -9,
/// power loss) can leave a stale hidden ".<name>.tmp-*" file beside the target, never
/// a damaged target; the next write to the same path removes it (see
/// remove_stale_temporaries).
void write_file_atomic(const std::filesystem::path& path, const FileWriter& writer,
                       const char* function = "write_file_atomic");

/// Removes the temporary files that writers of `path` which died mid-write left beside
/// it (".<name>.tmp-*"), never the file of a writer still at work: writers hold an
/// exclusive advisory lock (flock) on their temporary file, which the kernel releases
/// when they die. Best effort (errors are ignored); returns how many were removed.
/// write_file_atomic calls it before writing, the checkpoint loaders after reading.
std::size_t remove_stale_temporaries(const std::filesystem::path& path);

/// Atomically replaces `path` with `bytes` (see the overload taking a writer).
void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                       const char* function = "write_file_atomic");

/// Creates `dir` (and its parents) if needed and checks that files can be created in
/// it, by creating and removing a probe file. Throws IoError naming `function`, the
/// directory and the reason (read-only, not a directory, no space, ...). Programs call
/// it before training, so a bad output folder fails at once, not after the first epoch.
void ensure_writable_directory(const std::filesystem::path& dir,
                               const char* function = "ensure_writable_directory");

/// Reads a whole regular file. Throws IoError naming `function` and the path when
/// it is missing, not a regular file, larger than `max_bytes`, or unreadable.
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path,
                                          const char* function = "read_file_bytes",
                                          std::uint64_t max_bytes = std::uint64_t{1} << 40);

}  // namespace tapegrad::io
