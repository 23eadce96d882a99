#pragma once
// The zip container (PKWARE APPNOTE 6.3) as far as .npz archives need it.
//
// Writing: "stored" members (no compression) with a fixed timestamp, so the same
// content gives the same bytes. Archives over 4 GiB or with 65535 members or more
// (which would need ZIP64) are refused with an error.
//
// Reading accepts stored and deflated members and never trusts the bytes: every
// offset and size is checked before use, inflated sizes are bounded by what deflate
// can produce (so a forged directory cannot trigger a huge allocation), CRCs are
// verified, and anything unexpected is an IoError naming the function, the file, the
// member and the problem.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <tapegrad/core/io/atomic_file.hpp>
#include <vector>

namespace tapegrad::io {

/// One member to write: its name and its bytes, given in pieces so that a small
/// header and a large payload go out without being copied into one buffer.
struct ZipMember {
  std::string name;
  std::vector<std::span<const std::uint8_t>> parts;
};

/// Writes `members` as a zip archive into `sink`. Everything is sized and checksummed
/// before the first byte goes out, so an archive that cannot be written fails before
/// it touches the file. Throws IoError naming `function` and `name` when the archive
/// would need ZIP64.
void write_zip(ByteSink& sink, std::span<const ZipMember> members,
               const char* function = "write_zip", const std::filesystem::path& name = "<memory>");

/// One member as read_zip hands it over: its name and its content, inflated and
/// CRC-checked. Both views are valid only during the call that receives them.
struct ZipEntry {
  std::string_view name;
  std::span<const std::uint8_t> data;
};

/// Receives the members of an archive one by one, in directory order.
using ZipVisitor = std::function<void(const ZipEntry&)>;

/// True when `bytes` end with a zip end-of-central-directory record, as every complete
/// archive does.
bool has_zip_end_record(std::span<const std::uint8_t> bytes);

/// Reads the zip archive in `bytes` and calls `visit` for each member in directory
/// order; each member is checked, and inflated one at a time, just before its visit.
/// `name` stands for the file in messages, and `expected` says what the bytes should
/// have been when they are not a zip at all ("not <expected>: wrong magic ...").
/// Throws IoError on any malformed, truncated or unsupported content.
void read_zip(std::span<const std::uint8_t> bytes, const std::filesystem::path& name,
              const ZipVisitor& visit, const char* function = "read_zip",
              const char* expected = "a zip archive");

}  // namespace tapegrad::io
