#pragma once
// Shapes and the one place where sizes are multiplied and added. Every size a user
// can influence (shapes, strides, paddings, output sizes) goes through the checked
// helpers here, so a size that does not fit in 64 bits, or a tensor larger than any
// machine could hold, is an std::invalid_argument naming the op and the values the
// user gave, never a wrapped-around number.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace tapegrad {

/// Shape of a tensor: one extent per dimension, outermost first.
using Shape = std::vector<std::size_t>;

/// "[2, 3, 4]".
std::string shape_str(const Shape& s);
/// "[2, -1, 4]", for lists of signed sizes as the user gave them.
std::string list_str(const std::vector<std::int64_t>& v);
/// Python's tuple repr, as PyTorch prints module options: "(3, 3)", "(5,)", "()".
std::string tuple_str(const std::vector<std::int64_t>& v);

/// The largest number of elements a tensor may have: 2^48 (256 Ti elements), far
/// beyond any memory, small enough that byte counts and index arithmetic in int64
/// can never overflow.
inline constexpr std::int64_t kMaxNumel = std::int64_t(1) << 48;

/// a·b, or std::invalid_argument "<op>: <what> overflows: a * b" when the product
/// does not fit in int64. Both operands must be >= 0.
std::int64_t checked_mul(std::string_view op, std::int64_t a, std::int64_t b,
                         std::string_view what = "size");
/// a + b, or std::invalid_argument naming `op` when the sum does not fit in int64.
std::int64_t checked_add(std::string_view op, std::int64_t a, std::int64_t b,
                         std::string_view what = "size");
/// Product of all extents, or std::invalid_argument naming `op` and the shape when
/// it, or the product of the non-zero extents of an empty shape, exceeds kMaxNumel.
std::size_t checked_numel(std::string_view op, const Shape& shape);
/// Same for extents given as signed values (which must be >= 0).
std::int64_t checked_numel(std::string_view op, const std::vector<std::int64_t>& extents);

/// Converts a non-negative size_t to int64, or throws naming `op` (a size_t above
/// 2^63 is what a negative number passed as size_t looks like).
std::int64_t to_i64(std::string_view op, std::size_t v, std::string_view what = "size");

}  // namespace tapegrad
