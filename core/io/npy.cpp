#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <string>
#include <tapegrad/core/io/detail/binary_io.hpp>
#include <tapegrad/core/io/npy.hpp>
#include <type_traits>
#include <utility>
#include <variant>
#include <xtensor/xmanipulation.hpp>

namespace tapegrad::io {

// Array bytes are copied to and from the file with memcpy: the npy data we write
// and accept is little-endian and C-ordered, which is what xt::xarray holds here.
static_assert(std::endian::native == std::endian::little,
              "tapegrad's npy code assumes a little-endian host");
static_assert(XTENSOR_DEFAULT_LAYOUT == xt::layout_type::row_major,
              "tapegrad's npy code assumes row-major xt::xarray");

using detail::Ctx;
using detail::printable;
using detail::put_u16;
using detail::Reader;

namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr std::size_t kNpyMagicLen = 6;
constexpr std::size_t kNpyAlign = 64;  // numpy's ARRAY_ALIGN
constexpr std::size_t kMaxDims = 64;   // numpy's NPY_MAXDIMS (>= 32 in all versions)

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

}  // namespace

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

std::vector<std::uint8_t> npy_header(const NpzArray& a, const std::filesystem::path& name,
                                     const char* function, std::string_view member) {
  const Ctx ctx{function, name, std::string(member)};
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

std::span<const std::uint8_t> npy_data(const NpzArray& a) {
  return std::visit(
      [](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(x.data()),
                                             x.size() * sizeof(T));
      },
      a);
}

bool has_npy_magic(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= kNpyMagicLen && std::memcmp(bytes.data(), kNpyMagic, kNpyMagicLen) == 0;
}

NpzArray parse_npy(std::span<const std::uint8_t> bytes, const std::filesystem::path& name,
                   const char* function, std::string_view member) {
  const Ctx ctx{function, name, std::string(member)};
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

}  // namespace tapegrad::io
