#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <tapegrad/core/io/atomic_file.hpp>

namespace tapegrad::io {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

[[noreturn]] void fail(const char* function, const std::filesystem::path& path,
                       const std::string& what) {
  throw IoError(std::string(function) + ": " + path.string() + ": " + what);
}

/// Owns a file descriptor; closes it on every path out of a scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  /// Closes now and reports close's result (a deferred write error shows up here
  /// on some file systems, so the write path must check it).
  int close() {
    int r = ::close(fd_);
    fd_ = -1;
    return r;
  }

 private:
  int fd_;
};

/// Sink writing to a file descriptor, retrying short writes and EINTR.
class FdSink final : public ByteSink {
 public:
  FdSink(int fd, const char* function, const std::filesystem::path& path)
      : fd_(fd), function_(function), path_(path) {}
  using ByteSink::write;
  void write(const void* data, std::size_t size) override {
    const auto* p = static_cast<const std::uint8_t*>(data);
    while (size > 0) {
      // Chunks below 1 GiB: some kernels cap a single write() there anyway.
      const std::size_t chunk = size < (std::size_t{1} << 30) ? size : (std::size_t{1} << 30);
      const ssize_t n = ::write(fd_, p, chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail(function_, path_,
             "write failed after " + std::to_string(written_) + " bytes: " + errno_text(errno));
      }
      p += n;
      size -= static_cast<std::size_t>(n);
      written_ += static_cast<std::uint64_t>(n);
    }
  }
  std::uint64_t bytes_written() const override { return written_; }

 private:
  int fd_;
  const char* function_;
  const std::filesystem::path& path_;
  std::uint64_t written_ = 0;
};

/// A name no other writer (thread or process) uses: pid, a process-wide counter
/// and random bits. Starts with '.' so directory listings hide it.
std::filesystem::path temp_name_for(const std::filesystem::path& target) {
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // Appended piece by piece: GCC 12 gives a bogus -Wrestrict for "." + string.
  std::string name = ".";
  name += target.filename().string();
  name += ".tmp-";
  name += std::to_string(::getpid());
  name += '-';
  name += std::to_string(counter++);
  name += '-';
  name += std::to_string(rng() & 0xffffff);
  return target.parent_path() / name;
}

// The prefix of every temporary file of `target`: ".<name>.tmp-".
std::string temp_prefix(const std::filesystem::path& target) {
  std::string p = ".";
  p += target.filename().string();
  p += ".tmp-";
  return p;
}

}  // namespace

std::size_t remove_stale_temporaries(const std::filesystem::path& path) {
  if (path.empty() || !path.has_filename()) return 0;
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const std::string prefix = temp_prefix(path);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  std::vector<std::string> candidates;
  while (const dirent* e = ::readdir(d))
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0)
      candidates.emplace_back(e->d_name);
  ::closedir(d);
  std::size_t removed = 0;
  for (const std::string& name : candidates) {
    const std::filesystem::path tmp = dir / name;
    // A writer holds an exclusive lock on its temporary file from creation until it is
    // renamed; the kernel drops the lock when the writer dies. A file we can lock has no
    // live writer (not even one that created it a moment ago and is about to lock it:
    // that writer checks, after locking, that its name still points at its file).
    Fd fd(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) continue;
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // a live writer
    struct stat by_fd {
    }, by_name{};
    if (::fstat(fd.get(), &by_fd) != 0 || ::lstat(tmp.c_str(), &by_name) != 0) continue;
    if (by_fd.st_ino != by_name.st_ino || by_fd.st_dev != by_name.st_dev) continue;
    if (::unlink(tmp.c_str()) == 0) ++removed;
  }
  return removed;
}

void MemorySink::write(const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  bytes_.insert(bytes_.end(), p, p + size);
}

void write_file_atomic(const std::filesystem::path& path, const FileWriter& writer,
                       const char* function) {
  if (path.empty() || !path.has_filename()) fail(function, path, "not a file path");
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";

  // Keep the permissions of the file being replaced, as editors do.
  struct stat target_stat {};
  const bool target_exists = ::stat(path.c_str(), &target_stat) == 0;
  if (target_exists && S_ISDIR(target_stat.st_mode)) fail(function, path, "is a directory");

  // What an earlier writer that died (kill -9, power loss) left behind goes first.
  remove_stale_temporaries(path);

  std::filesystem::path tmp;
  int raw_fd = -1;
  for (int attempt = 0; attempt < 100 && raw_fd < 0; ++attempt) {
    tmp = temp_name_for(path);
    raw_fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (raw_fd < 0 && errno != EEXIST) {
      fail(function, path,
           "cannot create temporary file " + tmp.string() + ": " + errno_text(errno));
    }
    if (raw_fd < 0) continue;
    // Lock it for as long as we write (see remove_stale_temporaries). Between open and
    // flock another writer's clean-up may have taken the fresh file for stale and
    // removed it: then the name no longer leads to our file, and we start over.
    struct stat by_fd {
    }, by_name{};
    if (::flock(raw_fd, LOCK_EX) != 0 || ::fstat(raw_fd, &by_fd) != 0 ||
        ::lstat(tmp.c_str(), &by_name) != 0 || by_fd.st_ino != by_name.st_ino) {
      ::close(raw_fd);
      raw_fd = -1;
    }
  }
  if (raw_fd < 0) fail(function, path, "cannot find an unused temporary file name");
  Fd fd(raw_fd);

  try {
    if (target_exists) (void)::fchmod(fd.get(), target_stat.st_mode & 07777);
    FdSink sink(fd.get(), function, path);
    writer(sink);
    // fsync before rename: otherwise a crash can leave the new name pointing at
    // a file whose data never reached the disk (the classic zero-length file).
    if (::fsync(fd.get()) != 0) fail(function, path, "fsync failed: " + errno_text(errno));
    if (fd.close() != 0) fail(function, path, "close failed: " + errno_text(errno));
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      fail(function, path, "cannot rename " + tmp.string() + " over it: " + errno_text(errno));
    }
  } catch (...) {
    if (fd.get() >= 0) fd.close();
    ::unlink(tmp.c_str());
    throw;
  }

  // Make the rename itself durable. Best effort: the new file is already in
  // place, and some file systems refuse fsync on a directory.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
}

void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                       const char* function) {
  write_file_atomic(
      path, [bytes](ByteSink& sink) { sink.write(bytes); }, function);
}

void ensure_writable_directory(const std::filesystem::path& dir, const char* function) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(function, dir, "cannot create the directory: " + ec.message());
  if (!std::filesystem::is_directory(dir, ec)) fail(function, dir, "not a directory");
  const std::filesystem::path probe = dir / (".tapegrad-write-probe-" + std::to_string(::getpid()));
  Fd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0)
    fail(function, dir, "cannot create files in the directory: " + errno_text(errno));
  const bool wrote = ::write(fd.get(), "x", 1) == 1;
  const int err = errno;
  fd.close();
  ::unlink(probe.c_str());
  if (!wrote) fail(function, dir, "cannot write files in the directory: " + errno_text(err));
}

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path, const char* function,
                                          std::uint64_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail(function, path, "cannot open: " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(function, path, "cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) fail(function, path, "not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > max_bytes) {
    fail(function, path,
         "file has " + std::to_string(size) + " bytes, more than the limit of " +
             std::to_string(max_bytes));
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + got, bytes.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(function, path, "read failed: " + errno_text(errno));
    }
    if (n == 0) break;  // the file shrank while we read it
    got += static_cast<std::size_t>(n);
  }
  if (got != bytes.size()) {
    fail(function, path,
         "file changed while reading: expected " + std::to_string(size) + " bytes, got " +
             std::to_string(got));
  }
  return bytes;
}

}  // namespace tapegrad::io
