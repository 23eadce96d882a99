#pragma once
// Internal: what the picture code (png, image grid, line plot) shares. Only
// layers/data's .cpp files include this header.
#include <cstddef>
#include <string>
#include <tapegrad/core/shape.hpp>

namespace tapegrad::data::detail {

/// Largest height or width of a picture. PNG allows 2^31-1 pixels a side and
/// stb_image_write takes ints; pictures for people never need more than this.
inline constexpr std::size_t kMaxSide = 1 << 15;

/// A shape for messages, whatever container holds it.
std::string shape_text(const auto& shape) {
  return tapegrad::shape_str(tapegrad::Shape(shape.begin(), shape.end()));
}

}  // namespace tapegrad::data::detail
