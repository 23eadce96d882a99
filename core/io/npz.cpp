#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <tapegrad/core/io/npz.hpp>
#include <xtensor/xmanipulation.hpp>

namespace tapegrad::io {

// Array bytes are copied to and from the file with memcpy: the npy data we write
// and accept is little-endian and C-ordered, which is what xt::xarray holds here.
static_assert(std::endian::native == std::endian::little,
              "tapegrad's npz code assumes a little-endian host");
static_assert(XTENSOR_DEFAULT_LAYOUT == xt::layout_type::row_major,
              "tapegrad's npz code assumes row-major xt::xarray");

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

// ---- npy format ----
constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr std::size_t kNpyMagicLen = 6;
constexpr std::size_t kNpyAlign = 64;  // numpy's ARRAY_ALIGN
constexpr std::size_t kMaxDims = 64;
// A zip name has at most 65535 bytes, and ".npy" is appended to the key.
constexpr std::size_t kMaxKeyBytes = 0xffff - 4;  // numpy's NPY_MAXDIMS (>= 32 in all versions)

/// Non-printable bytes of an untrusted name as \xNN, long names cut, for messages.
std::string printable(std::string_view s) {
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

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string shape_repr(const std::vector<std::size_t>& shape) {
  // Python's tuple repr: (), (5,), (2, 3)
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

/// Where an error happened: function, file, and (once known) the member.
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
    const auto* p = bytes_.data() + offset;
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
  }
  std::uint32_t u32(std::uint64_t offset, const char* what) const {
    need(offset, 4, what);
    const auto* p = bytes_.data() + offset;
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
  }
  std::span<const std::uint8_t> sub(std::uint64_t offset, std::uint64_t n, const char* what) const {
    need(offset, n, what);
    return bytes_.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(n));
  }

 private:
  std::span<const std::uint8_t> bytes_;
  const Ctx& ctx_;
};

// ---------------------------------------------------------------- npy header

/// A value in the npy header dict: a string, a bool, or a tuple of ints.
struct HeaderValue {
  enum Kind { String, Bool, Tuple } kind = String;
  std::string text;
  bool flag = false;
  std::vector<std::size_t> ints;
};

/// Parser for the Python-literal dict in an npy header, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
/// It accepts exactly what numpy writes (and Python 2's "3L" integers), nothing
/// that needs evaluation.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const Ctx& ctx) : s_(text), ctx_(ctx) {}

  std::vector<std::pair<std::string, HeaderValue>> parse_dict() {
    std::vector<std::pair<std::string, HeaderValue>> items;
    skip_ws();
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      HeaderValue v = parse_value(key);
      items.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') break;
      error("expected ',' or '}'");
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != s_.size()) error("unexpected text after the dict");
    return items;
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c) {
    if (peek() != c) error(std::string("expected '") + c + "'");
    ++pos_;
  }
  [[noreturn]] void error(const std::string& what) const {
    ctx_.fail("bad npy header: " + what + " at character " + std::to_string(pos_) +
              " of header \"" + printable(s_.substr(0, 120)) + (s_.size() > 120 ? "..." : "") +
              "\"");
  }
  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') error("expected a quoted string");
    ++pos_;
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\') error("escape sequences are not supported");
      ++pos_;
    }
    if (pos_ >= s_.size()) error("unterminated string");
    std::string out(s_.substr(start, pos_ - start));
    ++pos_;
    return out;
  }
  std::size_t parse_uint() {
    if (!(peek() >= '0' && peek() <= '9')) error("expected a non-negative integer");
    std::uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const auto d = static_cast<std::uint64_t>(peek() - '0');
      if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) error("integer too large");
      v = v * 10 + d;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2 long, as old numpy wrote shapes
    if (v > std::numeric_limits<std::size_t>::max()) error("integer too large");
    return static_cast<std::size_t>(v);
  }
  HeaderValue parse_value(const std::string& key) {
    HeaderValue v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = HeaderValue::String;
      v.text = parse_string();
    } else if (s_.substr(pos_, 4) == "True") {
      v.kind = HeaderValue::Bool;
      v.flag = true;
      pos_ += 4;
    } else if (s_.substr(pos_, 5) == "False") {
      v.kind = HeaderValue::Bool;
      v.flag = false;
      pos_ += 5;
    } else if (c == '(') {
      v.kind = HeaderValue::Tuple;
      ++pos_;
      skip_ws();
      while (peek() != ')') {
        if (v.ints.size() == kMaxDims) error("more than 64 dimensions");
        v.ints.push_back(parse_uint());
        skip_ws();
        if (peek() == ',') {
          ++pos_;
          skip_ws();
        } else if (peek() != ')') {
          error("expected ',' or ')' in shape");
        }
      }
      ++pos_;
    } else if (c == '[' && key == "descr") {
      ctx_.fail(
          "unsupported dtype: structured (record) dtypes are not supported; "
          "supported: '<f4', '<f8', '<i8' and integers up to 32 bits");
    } else {
      error("unsupported value for '" + printable(key) + "'");
    }
    return v;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  const Ctx& ctx_;
};

/// What an npy descr means for us: the element size and how to widen it.
enum class Elem { F4, F8, I8, B1, U1, I1, U2, I2, U4, I4 };

struct DescrInfo {
  std::string_view descr;
  Elem elem;
  std::size_t itemsize;
};

constexpr DescrInfo kDescrs[] = {
    {"<f4", Elem::F4, 4}, {"<f8", Elem::F8, 8}, {"<i8", Elem::I8, 8}, {"|b1", Elem::B1, 1},
    {"|u1", Elem::U1, 1}, {"<u1", Elem::U1, 1}, {"|i1", Elem::I1, 1}, {"<i1", Elem::I1, 1},
    {"<u2", Elem::U2, 2}, {"<i2", Elem::I2, 2}, {"<u4", Elem::U4, 4}, {"<i4", Elem::I4, 4},
};

/// Copies `count` little-endian elements of type From from `src` into `dst`,
/// converting each to To (a widening conversion for the integer types).
template <class From, class To>
void copy_elements(const std::uint8_t* src, To* dst, std::size_t count) {
  if constexpr (std::is_same_v<From, To>) {
    if (count > 0) std::memcpy(dst, src, count * sizeof(To));
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      From v;
      std::memcpy(&v, src + i * sizeof(From), sizeof(From));
      dst[i] = static_cast<To>(v);
    }
  }
}

template <class T>
tapegrad::Array<T> make_array(const std::vector<std::size_t>& shape, bool fortran,
                              const std::uint8_t* data, Elem elem, std::size_t count) {
  // Fortran order is C order of the reversed shape; transposing that (which
  // reverses the axes) gives the array numpy meant, copied into C order.
  std::vector<std::size_t> stored_shape = shape;
  if (fortran) std::reverse(stored_shape.begin(), stored_shape.end());
  auto a = tapegrad::Array<T>::from_shape(stored_shape);
  T* dst = a.data();
  switch (elem) {
    case Elem::F4:
      copy_elements<float>(data, dst, count);
      break;
    case Elem::F8:
      copy_elements<double>(data, dst, count);
      break;
    case Elem::I8:
      copy_elements<std::int64_t>(data, dst, count);
      break;
    case Elem::B1:
      // numpy bools are one byte; any non-zero byte reads as True.
      for (std::size_t i = 0; i < count; ++i) dst[i] = data[i] != 0 ? 1 : 0;
      break;
    case Elem::U1:
      copy_elements<std::uint8_t>(data, dst, count);
      break;
    case Elem::I1:
      copy_elements<std::int8_t>(data, dst, count);
      break;
    case Elem::U2:
      copy_elements<std::uint16_t>(data, dst, count);
      break;
    case Elem::I2:
      copy_elements<std::int16_t>(data, dst, count);
      break;
    case Elem::U4:
      copy_elements<std::uint32_t>(data, dst, count);
      break;
    case Elem::I4:
      copy_elements<std::int32_t>(data, dst, count);
      break;
  }
  if (fortran && shape.size() > 1) return tapegrad::Array<T>(xt::transpose(a));
  return a;
}

/// Parses one .npy member (already decompressed and CRC-checked).
NpzArray parse_npy(std::span<const std::uint8_t> bytes, const Ctx& ctx) {
  Reader r(bytes, ctx);
  r.need(0, kNpyMagicLen + 2, "npy magic and version");
  if (std::memcmp(bytes.data(), kNpyMagic, kNpyMagicLen) != 0) {
    ctx.fail("not an npy array: wrong magic (expected \\x93NUMPY at the start of the member)");
  }
  const unsigned major = bytes[6];
  const unsigned minor = bytes[7];
  std::uint64_t header_len = 0;
  std::uint64_t header_start = 0;
  if (major == 1) {
    header_len = r.u16(8, "npy header length");
    header_start = 10;
  } else if (major == 2 || major == 3) {
    header_len = r.u32(8, "npy header length");
    header_start = 12;
  } else {
    ctx.fail("unsupported npy format version " + std::to_string(major) + "." +
             std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  const auto header_bytes = r.sub(header_start, header_len, "npy header");
  const std::string_view header(reinterpret_cast<const char*>(header_bytes.data()),
                                header_bytes.size());

  bool have_descr = false, have_fortran = false, have_shape = false;
  std::string descr;
  bool fortran = false;
  std::vector<std::size_t> shape;
  for (auto& entry : HeaderParser(header, ctx).parse_dict()) {
    // Named, not a structured binding: clang 14 cannot capture bindings in lambdas.
    const auto& key = entry.first;
    auto& value = entry.second;
    auto check = [&](bool& seen, HeaderValue::Kind kind, const char* kind_name) {
      if (seen) ctx.fail("bad npy header: key '" + key + "' appears twice");
      if (value.kind != kind) ctx.fail("bad npy header: '" + key + "' must be " + kind_name);
      seen = true;
    };
    if (key == "descr") {
      check(have_descr, HeaderValue::String, "a string");
      descr = value.text;
    } else if (key == "fortran_order") {
      check(have_fortran, HeaderValue::Bool, "True or False");
      fortran = value.flag;
    } else if (key == "shape") {
      check(have_shape, HeaderValue::Tuple, "a tuple of integers");
      shape = value.ints;
    } else {
      ctx.fail("bad npy header: unexpected key '" + printable(key) +
               "' (expected 'descr', 'fortran_order', 'shape')");
    }
  }
  if (!have_descr || !have_fortran || !have_shape) {
    ctx.fail("bad npy header: missing key '" +
             std::string(!have_descr     ? "descr"
                         : !have_fortran ? "fortran_order"
                                         : "shape") +
             "'");
  }

  const DescrInfo* info = nullptr;
  for (const auto& d : kDescrs)
    if (d.descr == descr) info = &d;
  if (info == nullptr) {
    std::string why;
    if (!descr.empty() && descr[0] == '>')
      why = " (big-endian)";
    else if (descr.find('O') != std::string::npos)
      why = " (Python objects)";
    ctx.fail("unsupported dtype '" + printable(descr) + "'" + why +
             "; supported: '<f4', '<f8', '<i8', and '|b1', '|u1', '|i1', '<u2', '<i2', "
             "'<u4', '<i4' (read as int64)");
  }

  std::size_t count = 1;
  for (std::size_t d : shape) {
    if (d != 0 && count > std::numeric_limits<std::size_t>::max() / d) {
      ctx.fail("shape " + shape_repr(shape) + " has too many elements");
    }
    count *= d;
  }
  const std::uint64_t data_start = header_start + header_len;
  const std::uint64_t data_bytes = bytes.size() - data_start;
  if (count > std::numeric_limits<std::uint64_t>::max() / info->itemsize ||
      count * info->itemsize != data_bytes) {
    const bool overflow = count > std::numeric_limits<std::uint64_t>::max() / info->itemsize;
    ctx.fail(std::string(overflow || count * info->itemsize > data_bytes ? "truncated"
                                                                         : "size mismatch") +
             ": shape " + shape_repr(shape) + " of '" + descr + "' needs " +
             (overflow ? std::string("more than 2^64") : std::to_string(count * info->itemsize)) +
             " bytes of data, the member has " + std::to_string(data_bytes) +
             " after its header (at offset " + std::to_string(data_start) + ")");
  }
  const std::uint8_t* data = bytes.data() + data_start;
  switch (info->elem) {
    case Elem::F4:
      return make_array<float>(shape, fortran, data, info->elem, count);
    case Elem::F8:
      return make_array<double>(shape, fortran, data, info->elem, count);
    default:
      return make_array<std::int64_t>(shape, fortran, data, info->elem, count);
  }
}

// ---------------------------------------------------------------- zip reading

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

}  // namespace

// ---------------------------------------------------------------- NpzDict

const char* npz_dtype(const NpzArray& a) {
  switch (a.index()) {
    case 0:
      return "<f4";
    case 1:
      return "<f8";
    default:
      return "<i8";
  }
}

std::vector<std::size_t> npz_shape(const NpzArray& a) {
  return std::visit(
      [](const auto& x) { return std::vector<std::size_t>(x.shape().begin(), x.shape().end()); },
      a);
}

namespace {
void check_key(std::string_view key) {
  if (key.empty()) throw std::invalid_argument("NpzDict: empty key");
  if (key.size() > kMaxKeyBytes) {
    throw std::invalid_argument("NpzDict: key of " + std::to_string(key.size()) +
                                " bytes is longer than the 65531 a zip member name allows");
  }
  if (key.find('\0') != std::string_view::npos) {
    throw std::invalid_argument("NpzDict: key '" + printable(key) + "' contains a NUL byte");
  }
}
}  // namespace

NpzDict::NpzDict(std::initializer_list<value_type> items) {
  for (const auto& [k, v] : items) insert(k, v);
}

void NpzDict::insert(std::string key, NpzArray array) {
  check_key(key);
  if (contains(key)) throw std::invalid_argument("NpzDict: duplicate key '" + printable(key) + "'");
  items_.emplace_back(std::move(key), std::move(array));
}

void NpzDict::insert_or_assign(std::string key, NpzArray array) {
  check_key(key);
  for (auto& [k, v] : items_) {
    if (k == key) {
      v = std::move(array);
      return;
    }
  }
  items_.emplace_back(std::move(key), std::move(array));
}

bool NpzDict::contains(std::string_view key) const {
  return std::any_of(items_.begin(), items_.end(), [&](const auto& kv) { return kv.first == key; });
}

const NpzArray& NpzDict::at(std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  std::string present;
  for (std::size_t i = 0; i < items_.size() && i < 20; ++i) {
    present += (i ? ", '" : "'") + printable(items_[i].first) + "'";
  }
  if (items_.size() > 20) present += ", ...";
  throw std::out_of_range("NpzDict: no key '" + printable(key) +
                          "' (keys: " + (present.empty() ? "none" : present) + ")");
}

std::vector<std::string> NpzDict::keys() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& kv : items_) out.push_back(kv.first);
  return out;
}

void NpzDict::throw_dtype_mismatch(std::string_view key, const NpzArray& a, const char* wanted) {
  throw std::invalid_argument("NpzDict: key '" + printable(key) + "' holds dtype '" + npz_dtype(a) +
                              "', not the requested '" + wanted + "'");
}

// ---------------------------------------------------------------- writing

namespace {

void put_u16(std::vector<std::uint8_t>& b, std::uint64_t v) {
  b.push_back(static_cast<std::uint8_t>(v));
  b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put_u32(std::vector<std::uint8_t>& b, std::uint64_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

/// The NPY 1.0 header for an array, padded with spaces and a final newline so the
/// data starts at a multiple of 64 bytes, as numpy.save writes it.
std::vector<std::uint8_t> npy_header(const NpzArray& a, const Ctx& ctx) {
  std::string dict = std::string("{'descr': '") + npz_dtype(a) +
                     "', 'fortran_order': False, 'shape': " + shape_repr(npz_shape(a)) + ", }";
  const std::size_t unpadded = kNpyMagicLen + 2 + 2 + dict.size() + 1;
  dict.append((kNpyAlign - unpadded % kNpyAlign) % kNpyAlign, ' ');
  dict += '\n';
  if (dict.size() > 0xffff)
    ctx.fail("npy header too long (" + std::to_string(dict.size()) + " bytes)");
  std::vector<std::uint8_t> h(kNpyMagic, kNpyMagic + kNpyMagicLen);
  h.push_back(1);  // format version 1.0
  h.push_back(0);
  put_u16(h, dict.size());
  h.insert(h.end(), dict.begin(), dict.end());
  return h;
}

/// Bytes of an array's elements (C order, little-endian).
std::span<const std::uint8_t> array_bytes(const NpzArray& a) {
  return std::visit(
      [](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(x.data()),
                                             x.size() * sizeof(T));
      },
      a);
}

std::uint32_t crc32_of(std::uint32_t crc, std::span<const std::uint8_t> b) {
  // zlib treats a null buffer as "return the initial value", and an empty
  // xt::xarray's data() may be null: skip empty spans instead.
  if (b.empty()) return crc;
  return static_cast<std::uint32_t>(crc32_z(crc, b.data(), b.size()));
}

}  // namespace

void write_npz(ByteSink& sink, const NpzDict& dict, const char* function,
               const std::filesystem::path& name) {
  struct Member {
    std::string filename;
    std::vector<std::uint8_t> header;
    std::span<const std::uint8_t> data;
    std::uint32_t crc;
    std::uint64_t size;
    std::uint64_t offset;
    std::uint16_t flags;
  };
  Ctx ctx{function, name, {}};
  if (dict.size() >= 0xffff) {
    ctx.fail("too many arrays (" + std::to_string(dict.size()) +
             "): more than 65534 needs ZIP64, which is not supported");
  }

  // Everything is sized and checksummed before the first byte goes out, so an
  // archive that cannot be written fails before it touches the file system.
  std::vector<Member> members;
  std::uint64_t offset = 0;
  for (const auto& [key, array] : dict) {
    Member m;
    m.filename = key + ".npy";
    ctx.member = m.filename;
    m.header = npy_header(array, ctx);
    m.data = array_bytes(array);
    m.crc = crc32_of(crc32_of(0, m.header), m.data);
    m.size = m.header.size() + m.data.size();
    m.offset = offset;
    const bool ascii = std::all_of(m.filename.begin(), m.filename.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    m.flags = ascii ? 0 : kFlagUtf8;  // as Python's zipfile marks non-ASCII names
    offset += kLocalSize + m.filename.size() + m.size;
    if (m.size > kZipLimit || offset > kZipLimit) {
      ctx.fail("archive would exceed 4 GiB (" + std::to_string(offset) +
               " bytes so far), which needs ZIP64, which is not supported");
    }
    members.push_back(std::move(m));
  }
  ctx.member.clear();
  const std::uint64_t cd_offset = offset;
  std::uint64_t cd_size = 0;
  for (const auto& m : members) cd_size += kCentralSize + m.filename.size();
  if (cd_offset + cd_size + kEocdSize > kZipLimit) {
    ctx.fail("archive would exceed 4 GiB, which needs ZIP64, which is not supported");
  }

  // A fixed timestamp (1980-01-01 00:00, the DOS epoch) makes the same arrays
  // give the same bytes, so checkpoints can be compared and hashed.
  constexpr std::uint16_t kDosTime = 0, kDosDate = (0 << 9) | (1 << 5) | 1;
  for (const auto& m : members) {
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
    put_u16(h, m.filename.size());
    put_u16(h, 0);  // extra field length
    h.insert(h.end(), m.filename.begin(), m.filename.end());
    sink.write(h);
    sink.write(m.header);
    sink.write(m.data);
  }
  std::vector<std::uint8_t> cd;
  for (const auto& m : members) {
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
    put_u16(cd, m.filename.size());
    put_u16(cd, 0);                             // extra
    put_u16(cd, 0);                             // comment
    put_u16(cd, 0);                             // disk number start
    put_u16(cd, 0);                             // internal attributes
    put_u32(cd, std::uint64_t{0100644} << 16);  // external: regular file, rw-r--r--
    put_u32(cd, m.offset);
    cd.insert(cd.end(), m.filename.begin(), m.filename.end());
  }
  put_u32(cd, kEocdSig);
  put_u16(cd, 0);  // this disk
  put_u16(cd, 0);  // disk with the central directory
  put_u16(cd, members.size());
  put_u16(cd, members.size());
  put_u32(cd, cd_size);
  put_u32(cd, cd_offset);
  put_u16(cd, 0);  // comment length
  sink.write(cd);
}

void save_npz(const std::filesystem::path& path, const NpzDict& dict) {
  write_file_atomic(
      path, [&](ByteSink& sink) { write_npz(sink, dict, "save_npz", path); }, "save_npz");
}

// ---------------------------------------------------------------- reading

NpzDict parse_npz(std::span<const std::uint8_t> bytes, const std::filesystem::path& name,
                  const char* function) {
  Ctx ctx{function, name, {}};
  const Reader r(bytes, ctx);
  const std::uint64_t size = bytes.size();

  // The end-of-central-directory record is the last 22 bytes plus a comment of
  // up to 65535 bytes; take the last signature whose comment ends the file.
  std::uint64_t eocd = size;
  if (size >= kEocdSize) {
    const std::uint64_t lowest = size - kEocdSize > 0xffff ? size - kEocdSize - 0xffff : 0;
    for (std::uint64_t p = size - kEocdSize + 1; p-- > lowest;) {
      if (r.u32(p, "end of central directory") == kEocdSig &&
          p + kEocdSize + r.u16(p + 20, "archive comment length") == size) {
        eocd = p;
        break;
      }
    }
  }
  if (eocd == size) {
    if (size >= kNpyMagicLen && std::memcmp(bytes.data(), kNpyMagic, kNpyMagicLen) == 0) {
      ctx.fail("this is a .npy array, not an .npz archive (load it with numpy.load)");
    }
    if (size >= 4 && r.u32(0, "zip magic") == kLocalSig) {
      ctx.fail(
          "truncated or corrupt zip archive: no end-of-central-directory record in the "
          "last " +
          std::to_string(std::min<std::uint64_t>(size, kEocdSize + 0xffff)) + " bytes of " +
          std::to_string(size));
    }
    ctx.fail("not an npz (zip) archive: wrong magic (file starts with " + describe_magic(bytes) +
             ", expected 50 4b 03 04, \"PK\\3\\4\"; file has " + std::to_string(size) + " bytes)");
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

  NpzDict dict;
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

    const std::string& member = ctx.member;
    if (member.size() <= 4 || member.compare(member.size() - 4, 4, ".npy") != 0) {
      ctx.fail("not a .npy array (npz members are named <key>.npy)");
    }
    std::string key = member.substr(0, member.size() - 4);
    if (dict.contains(key)) ctx.fail("duplicate member");
    if (key.find('\0') != std::string::npos) ctx.fail("member name contains a NUL byte");
    NpzArray array = parse_npy(content, ctx);
    dict.insert(std::move(key), std::move(array));
  }
  return dict;
}

NpzDict load_npz(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path, "load_npz");
  return parse_npz(bytes, path, "load_npz");
}

}  // namespace tapegrad::io
