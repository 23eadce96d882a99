#include <limits>
#include <stdexcept>
#include <tapegrad/core/shape.hpp>

namespace tapegrad {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

std::string list_str(const std::vector<std::int64_t>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(v[i]);
  }
  return out + "]";
}

std::string tuple_str(const std::vector<std::int64_t>& v) {
  std::string out = "(";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(v[i]);
  }
  if (v.size() == 1) out += ",";
  return out + ")";
}

std::int64_t checked_mul(std::string_view op, std::int64_t a, std::int64_t b,
                         std::string_view what) {
  std::int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
    throw std::invalid_argument(std::string(op) + ": " + std::string(what) +
                                " overflows: " + std::to_string(a) + " * " + std::to_string(b) +
                                " does not fit in 64 bits");
  return r;
}

std::int64_t checked_add(std::string_view op, std::int64_t a, std::int64_t b,
                         std::string_view what) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    throw std::invalid_argument(std::string(op) + ": " + std::string(what) +
                                " overflows: " + std::to_string(a) + " + " + std::to_string(b) +
                                " does not fit in 64 bits");
  return r;
}

std::int64_t to_i64(std::string_view op, std::size_t v, std::string_view what) {
  if (v > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()))
    throw std::invalid_argument(std::string(op) + ": " + std::string(what) + " " +
                                std::to_string(v) +
                                " is too large (a negative value passed as an unsigned size?)");
  return static_cast<std::int64_t>(v);
}

namespace {
[[noreturn]] void too_large(std::string_view op, const std::string& shape) {
  throw std::invalid_argument(std::string(op) + ": the shape " + shape + " has more than 2^48 (" +
                              std::to_string(kMaxNumel) +
                              ") elements: no tensor that large can be stored");
}
}  // namespace

std::size_t checked_numel(std::string_view op, const Shape& shape) {
  // The product of the non-zero extents must fit too, even when another extent is 0:
  // strides are products of extents, and an empty [0, 2^62, 8] tensor would overflow
  // them as surely as a full one.
  std::int64_t n = 1;
  bool empty = false;
  for (std::size_t d : shape) {
    if (d == 0) {
      empty = true;
      continue;
    }
    if (d > static_cast<std::size_t>(kMaxNumel) ||
        __builtin_mul_overflow(n, static_cast<std::int64_t>(d), &n) || n > kMaxNumel)
      too_large(op, shape_str(shape));
  }
  return empty ? 0 : static_cast<std::size_t>(n);
}

std::int64_t checked_numel(std::string_view op, const std::vector<std::int64_t>& extents) {
  Shape s;
  for (std::int64_t e : extents) {
    if (e < 0)
      throw std::invalid_argument(std::string(op) + ": negative dimension " + std::to_string(e) +
                                  " in " + list_str(extents));
    s.push_back(static_cast<std::size_t>(e));
  }
  return static_cast<std::int64_t>(checked_numel(op, s));
}

}  // namespace tapegrad
