#pragma once
// Internal: what the npy, zip and npz code share to read untrusted bytes and to write
// little-endian fields: the error context every message carries, name quoting, and
// bounds-checked reads. Only core/io's .cpp files include this header.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <tapegrad/core/io/atomic_file.hpp>
#include <vector>

namespace tapegrad::io::detail {

/// Non-printable bytes of an untrusted name as \xNN, long names cut, for messages.
inline std::string printable(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 200; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

/// Where an error happened: function, file, and (once known) the member, so that every
/// message reads "function: file: member 'name': what".
struct Ctx {
  const char* function;
  const std::filesystem::path& file;
  std::string member;

  [[noreturn]] void fail(const std::string& what) const {
    std::string msg = std::string(function) + ": " + file.string() + ": ";
    if (!member.empty()) msg += "member '" + printable(member) + "': ";
    throw IoError(msg + what);
  }
};

/// Little-endian loads from a buffer the caller has already bounds-checked.
inline std::uint16_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t load_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

/// Bounds-checked little-endian reads from an untrusted buffer: every read names
/// the structure it belongs to, so a truncated file says what was cut off.
class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, const Ctx& ctx) : bytes_(bytes), ctx_(ctx) {}

  std::uint64_t size() const { return bytes_.size(); }

  void need(std::uint64_t offset, std::uint64_t n, const char* what) const {
    if (offset > bytes_.size() || n > bytes_.size() - offset) {
      ctx_.fail(std::string("truncated: ") + what + " at offset " + std::to_string(offset) +
                " needs " + std::to_string(n) + " bytes, but the data ends at offset " +
                std::to_string(bytes_.size()));
    }
  }
  std::uint16_t u16(std::uint64_t offset, const char* what) const {
    need(offset, 2, what);
    return load_u16(bytes_.data() + offset);
  }
  std::uint32_t u32(std::uint64_t offset, const char* what) const {
    need(offset, 4, what);
    return load_u32(bytes_.data() + offset);
  }
  std::span<const std::uint8_t> sub(std::uint64_t offset, std::uint64_t n, const char* what) const {
    need(offset, n, what);
    return bytes_.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(n));
  }

 private:
  std::span<const std::uint8_t> bytes_;
  const Ctx& ctx_;
};

/// Little-endian appends, for the fixed-width fields of the headers we write.
inline void put_u16(std::vector<std::uint8_t>& b, std::uint64_t v) {
  b.push_back(static_cast<std::uint8_t>(v));
  b.push_back(static_cast<std::uint8_t>(v >> 8));
}
inline void put_u32(std::vector<std::uint8_t>& b, std::uint64_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

}  // namespace tapegrad::io::detail
