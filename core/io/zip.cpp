#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <tapegrad/core/io/detail/binary_io.hpp>
#include <tapegrad/core/io/zip.hpp>

namespace tapegrad::io {

using detail::Ctx;
using detail::printable;
using detail::put_u16;
using detail::put_u32;
using detail::Reader;

namespace {

// ---- zip format constants (PKWARE APPNOTE 6.3) ----
constexpr std::uint32_t kLocalSig = 0x04034b50;    // "PK\3\4"
constexpr std::uint32_t kCentralSig = 0x02014b50;  // "PK\1\2"
constexpr std::uint32_t kEocdSig = 0x06054b50;     // "PK\5\6"
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::size_t kLocalSize = 30;
constexpr std::size_t kCentralSize = 46;
constexpr std::size_t kEocdSize = 22;
constexpr std::uint16_t kFlagEncrypted = 0x0001;
constexpr std::uint16_t kFlagUtf8 = 0x0800;
constexpr std::uint16_t kMethodStored = 0;
constexpr std::uint16_t kMethodDeflate = 8;
constexpr std::uint64_t kZipLimit = 0xffffffffu;  // beyond this ZIP64 is needed
// Deflate cannot expand data by more than ~1032:1, so a directory claiming more
// is corrupt; checking this first keeps garbage from triggering huge allocations.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::uint32_t crc32_of(std::uint32_t crc, std::span<const std::uint8_t> b) {
  // zlib treats a null buffer as "return the initial value", and an empty
  // xt::xarray's data() may be null: skip empty spans instead.
  if (b.empty()) return crc;
  return static_cast<std::uint32_t>(crc32_z(crc, b.data(), b.size()));
}

/// Inflates a raw deflate stream (zip method 8) that must decompress to exactly
/// `expected` bytes.
std::vector<std::uint8_t> inflate_member(std::span<const std::uint8_t> in, std::uint64_t expected,
                                         const Ctx& ctx) {
  if (expected > in.size() * kMaxDeflateRatio + 1024) {
    ctx.fail("corrupt: directory says " + std::to_string(in.size()) +
             " compressed bytes inflate to " + std::to_string(expected) +
             ", more than deflate can produce");
  }
  // One spare byte so that a stream inflating to more than `expected` is caught.
  std::vector<std::uint8_t> out(static_cast<std::size_t>(expected) + 1);
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) ctx.fail("zlib inflateInit2 failed");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());  // < 4 GiB: checked by the caller
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  const std::uint64_t produced = zs.total_out;
  const uInt left_in = zs.avail_in;
  const std::string zmsg = zs.msg != nullptr ? zs.msg : "";
  inflateEnd(&zs);
  if (rc == Z_DATA_ERROR) ctx.fail("corrupt deflate data: " + zmsg);
  if (rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
    ctx.fail("zlib inflate failed with code " + std::to_string(rc) +
             (zmsg.empty() ? "" : ": " + zmsg));
  }
  if (rc != Z_STREAM_END) {
    if (produced > expected) {
      ctx.fail("corrupt: inflates to more than the " + std::to_string(expected) +
               " bytes the directory says");
    }
    ctx.fail("truncated deflate data: stream ends early after producing " +
             std::to_string(produced) + " of " + std::to_string(expected) + " bytes");
  }
  if (produced != expected) {
    ctx.fail("corrupt: inflates to " + std::to_string(produced) + " bytes, directory says " +
             std::to_string(expected));
  }
  if (left_in != 0) {
    ctx.fail("corrupt: " + std::to_string(left_in) + " bytes after the end of the deflate stream");
  }
  out.resize(static_cast<std::size_t>(expected));
  return out;
}

std::string describe_magic(std::span<const std::uint8_t> bytes) {
  std::string s;
  for (std::size_t i = 0; i < 4 && i < bytes.size(); ++i) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
    if (i > 0) s += ' ';
    s += buf;
  }
  return s.empty() ? "(empty file)" : s;
}

/// Offset of the end-of-central-directory record, or bytes.size() when there is none.
std::uint64_t find_end_record(std::span<const std::uint8_t> bytes) {
  // The record is the last 22 bytes plus a comment of up to 65535 bytes; take the
  // last signature whose comment ends the data.
  const std::uint64_t size = bytes.size();
  if (size >= kEocdSize) {
    const std::uint64_t lowest = size - kEocdSize > 0xffff ? size - kEocdSize - 0xffff : 0;
    for (std::uint64_t p = size - kEocdSize + 1; p-- > lowest;) {
      if (detail::load_u32(bytes.data() + p) == kEocdSig &&
          p + kEocdSize + detail::load_u16(bytes.data() + p + 20) == size) {
        return p;
      }
    }
  }
  return size;
}

}  // namespace

// ---------------------------------------------------------------- writing

void write_zip(ByteSink& sink, std::span<const ZipMember> members, const char* function,
               const std::filesystem::path& name) {
  struct Entry {
    const ZipMember* member;
    std::uint32_t crc;
    std::uint64_t size;
    std::uint64_t offset;
    std::uint16_t flags;
  };
  Ctx ctx{function, name, {}};
  if (members.size() >= 0xffff) {
    ctx.fail("too many members (" + std::to_string(members.size()) +
             "): more than 65534 needs ZIP64, which is not supported");
  }

  // Everything is sized and checksummed before the first byte goes out, so an
  // archive that cannot be written fails before it touches the file system.
  std::vector<Entry> entries;
  entries.reserve(members.size());
  std::uint64_t offset = 0;
  for (const ZipMember& member : members) {
    const std::string& filename = member.name;
    ctx.member = filename;
    if (filename.size() > 0xffff) {
      ctx.fail("name of " + std::to_string(filename.size()) +
               " bytes is longer than the 65535 a zip member name allows");
    }
    Entry m{&member, 0, 0, offset, 0};
    for (const auto& part : member.parts) {
      m.crc = crc32_of(m.crc, part);
      m.size += part.size();
    }
    const bool ascii = std::all_of(filename.begin(), filename.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    m.flags = ascii ? 0 : kFlagUtf8;  // as Python's zipfile marks non-ASCII names
    offset += kLocalSize + filename.size() + m.size;
    if (m.size > kZipLimit || offset > kZipLimit) {
      ctx.fail("archive would exceed 4 GiB (" + std::to_string(offset) +
               " bytes so far), which needs ZIP64, which is not supported");
    }
    entries.push_back(m);
  }
  ctx.member.clear();
  const std::uint64_t cd_offset = offset;
  std::uint64_t cd_size = 0;
  for (const auto& m : entries) cd_size += kCentralSize + m.member->name.size();
  if (cd_offset + cd_size + kEocdSize > kZipLimit) {
    ctx.fail("archive would exceed 4 GiB, which needs ZIP64, which is not supported");
  }

  // A fixed timestamp (1980-01-01 00:00, the DOS epoch) makes the same content
  // give the same bytes, so checkpoints can be compared and hashed.
  constexpr std::uint16_t kDosTime = 0, kDosDate = (0 << 9) | (1 << 5) | 1;
  for (const auto& m : entries) {
    const std::string& filename = m.member->name;
    std::vector<std::uint8_t> h;
    put_u32(h, kLocalSig);
    put_u16(h, 20);  // version needed: 2.0
    put_u16(h, m.flags);
    put_u16(h, kMethodStored);
    put_u16(h, kDosTime);
    put_u16(h, kDosDate);
    put_u32(h, m.crc);
    put_u32(h, m.size);  // compressed size
    put_u32(h, m.size);  // uncompressed size
    put_u16(h, filename.size());
    put_u16(h, 0);  // extra field length
    h.insert(h.end(), filename.begin(), filename.end());
    sink.write(h);
    for (const auto& part : m.member->parts) sink.write(part);
  }
  std::vector<std::uint8_t> cd;
  for (const auto& m : entries) {
    const std::string& filename = m.member->name;
    put_u32(cd, kCentralSig);
    put_u16(cd, (3 << 8) | 20);  // made by: Unix, zip 2.0
    put_u16(cd, 20);             // version needed
    put_u16(cd, m.flags);
    put_u16(cd, kMethodStored);
    put_u16(cd, kDosTime);
    put_u16(cd, kDosDate);
    put_u32(cd, m.crc);
    put_u32(cd, m.size);
    put_u32(cd, m.size);
    put_u16(cd, filename.size());
    put_u16(cd, 0);                             // extra
    put_u16(cd, 0);                             // comment
    put_u16(cd, 0);                             // disk number start
    put_u16(cd, 0);                             // internal attributes
    put_u32(cd, std::uint64_t{0100644} << 16);  // external: regular file, rw-r--r--
    put_u32(cd, m.offset);
    cd.insert(cd.end(), filename.begin(), filename.end());
  }
  put_u32(cd, kEocdSig);
  put_u16(cd, 0);  // this disk
  put_u16(cd, 0);  // disk with the central directory
  put_u16(cd, entries.size());
  put_u16(cd, entries.size());
  put_u32(cd, cd_size);
  put_u32(cd, cd_offset);
  put_u16(cd, 0);  // comment length
  sink.write(cd);
}

// ---------------------------------------------------------------- reading

bool has_zip_end_record(std::span<const std::uint8_t> bytes) {
  return find_end_record(bytes) != bytes.size();
}

void read_zip(std::span<const std::uint8_t> bytes, const std::filesystem::path& name,
              const ZipVisitor& visit, const char* function, const char* expected) {
  Ctx ctx{function, name, {}};
  const Reader r(bytes, ctx);
  const std::uint64_t size = bytes.size();

  const std::uint64_t eocd = find_end_record(bytes);
  if (eocd == size) {
    if (size >= 4 && r.u32(0, "zip magic") == kLocalSig) {
      ctx.fail(
          "truncated or corrupt zip archive: no end-of-central-directory record in the "
          "last " +
          std::to_string(std::min<std::uint64_t>(size, kEocdSize + 0xffff)) + " bytes of " +
          std::to_string(size));
    }
    ctx.fail("not " + std::string(expected) + ": wrong magic (file starts with " +
             describe_magic(bytes) + ", expected 50 4b 03 04, \"PK\\3\\4\"; file has " +
             std::to_string(size) + " bytes)");
  }

  const std::uint16_t disk = r.u16(eocd + 4, "EOCD disk number");
  const std::uint16_t cd_disk = r.u16(eocd + 6, "EOCD directory disk");
  const std::uint16_t entries_here = r.u16(eocd + 8, "EOCD entry count");
  const std::uint16_t entries = r.u16(eocd + 10, "EOCD entry count");
  const std::uint32_t cd_size = r.u32(eocd + 12, "EOCD directory size");
  const std::uint32_t cd_offset = r.u32(eocd + 16, "EOCD directory offset");
  const bool zip64_locator = eocd >= 20 && r.u32(eocd - 20, "ZIP64 locator") == kZip64LocatorSig;
  if (zip64_locator || entries == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
    ctx.fail("ZIP64 archive (over 4 GiB or 65535 members): not supported");
  }
  if (disk != 0 || cd_disk != 0 || entries_here != entries) {
    ctx.fail("multi-disk (split) zip archives are not supported");
  }
  if (std::uint64_t{cd_offset} + cd_size != eocd) {
    ctx.fail("corrupt zip: central directory at offset " + std::to_string(cd_offset) + " with " +
             std::to_string(cd_size) +
             " bytes does not end where the end-of-central-directory "
             "record starts (offset " +
             std::to_string(eocd) + ")");
  }
  if (std::uint64_t{entries} * kCentralSize > cd_size) {
    ctx.fail("corrupt zip: " + std::to_string(entries) + " entries cannot fit in a " +
             std::to_string(cd_size) + "-byte central directory");
  }

  std::uint64_t p = cd_offset;
  for (unsigned i = 0; i < entries; ++i) {
    ctx.member.clear();
    const std::string entry = "central directory entry " + std::to_string(i);
    const auto need_cd = [&](std::uint64_t at, std::uint64_t n) {
      if (at + n > eocd) {
        ctx.fail("corrupt zip: " + entry + " at offset " + std::to_string(p) +
                 " runs past the end of the central directory (offset " + std::to_string(eocd) +
                 ")");
      }
    };
    need_cd(p, kCentralSize);
    if (r.u32(p, "central directory entry") != kCentralSig) {
      ctx.fail("corrupt zip: bad signature " + hex32(r.u32(p, "")) + " for " + entry +
               " at offset " + std::to_string(p) + " (expected " + hex32(kCentralSig) + ")");
    }
    const std::uint16_t flags = r.u16(p + 8, "flags");
    const std::uint16_t method = r.u16(p + 10, "method");
    const std::uint32_t crc = r.u32(p + 16, "crc");
    const std::uint32_t comp_size = r.u32(p + 20, "compressed size");
    const std::uint32_t uncomp_size = r.u32(p + 24, "uncompressed size");
    const std::uint16_t name_len = r.u16(p + 28, "name length");
    const std::uint16_t extra_len = r.u16(p + 30, "extra length");
    const std::uint16_t comment_len = r.u16(p + 32, "comment length");
    const std::uint32_t local_offset = r.u32(p + 42, "local header offset");
    need_cd(p, kCentralSize + std::uint64_t{name_len} + extra_len + comment_len);
    const auto name_bytes = r.sub(p + kCentralSize, name_len, "member name");
    ctx.member.assign(reinterpret_cast<const char*>(name_bytes.data()), name_bytes.size());
    p += kCentralSize + std::uint64_t{name_len} + extra_len + comment_len;

    if (ctx.member.empty()) ctx.fail("corrupt zip: " + entry + " has an empty name");
    if (comp_size == 0xffffffffu || uncomp_size == 0xffffffffu || local_offset == 0xffffffffu) {
      ctx.fail("ZIP64 member (over 4 GiB): not supported");
    }
    if (flags & kFlagEncrypted) ctx.fail("encrypted members are not supported");
    if (method != kMethodStored && method != kMethodDeflate) {
      ctx.fail("unsupported compression method " + std::to_string(method) +
               " (supported: 0 stored, 8 deflate)");
    }

    // The local header repeats the name; its size fields may be zero (data
    // descriptor) or 0xffffffff (numpy writes a ZIP64 extra field there), so the
    // central directory's sizes are the ones used.
    const std::string at_local = " at offset " + std::to_string(local_offset);
    if (std::uint64_t{local_offset} + kLocalSize > cd_offset) {
      ctx.fail("corrupt zip: local header" + at_local +
               " lies outside the member data (which ends at offset " + std::to_string(cd_offset) +
               ")");
    }
    if (r.u32(local_offset, "local header") != kLocalSig) {
      ctx.fail("corrupt zip: bad local header signature " + hex32(r.u32(local_offset, "")) +
               at_local + " (expected " + hex32(kLocalSig) + ")");
    }
    if (r.u16(local_offset + 8, "local method") != method) {
      ctx.fail("corrupt zip: local header" + at_local +
               " and central directory disagree on the compression method");
    }
    const std::uint16_t local_name_len = r.u16(local_offset + 26, "local name length");
    const std::uint16_t local_extra_len = r.u16(local_offset + 28, "local extra length");
    const std::uint64_t data_offset =
        std::uint64_t{local_offset} + kLocalSize + local_name_len + local_extra_len;
    if (data_offset + comp_size > cd_offset) {
      ctx.fail("truncated or corrupt zip: data at offset " + std::to_string(data_offset) +
               " with " + std::to_string(comp_size) + " bytes runs past the member data, " +
               "which ends at offset " + std::to_string(cd_offset));
    }
    const auto local_name = r.sub(local_offset + kLocalSize, local_name_len, "local name");
    if (!std::equal(local_name.begin(), local_name.end(), name_bytes.begin(), name_bytes.end())) {
      ctx.fail("corrupt zip: local header" + at_local + " names '" +
               printable(std::string_view(reinterpret_cast<const char*>(local_name.data()),
                                          local_name.size())) +
               "', the central directory names it differently");
    }
    const auto stored = r.sub(data_offset, comp_size, "member data");

    std::vector<std::uint8_t> inflated;
    std::span<const std::uint8_t> content = stored;
    if (method == kMethodStored) {
      if (comp_size != uncomp_size) {
        ctx.fail("corrupt zip: stored member has compressed size " + std::to_string(comp_size) +
                 " but uncompressed size " + std::to_string(uncomp_size));
      }
    } else {
      inflated = inflate_member(stored, uncomp_size, ctx);
      content = inflated;
    }
    const std::uint32_t actual_crc = crc32_of(0, content);
    if (actual_crc != crc) {
      ctx.fail("CRC-32 mismatch (data at offset " + std::to_string(data_offset) +
               "): directory says " + hex32(crc) + ", data has " + hex32(actual_crc));
    }
    visit(ZipEntry{ctx.member, content});
  }
}

}  // namespace tapegrad::io
