#pragma once
// Internal: the built-in pixel font of the line plot (stb_easy_font), so that labels
// need no font files. Only layers/data's .cpp files include this header.
#include <string>
#include <vector>

namespace tapegrad::data::detail {

/// One filled rectangle of rendered text, [x0, x1) x [y0, y1) in font pixels from the
/// text's top-left corner.
struct FontQuad {
  float x0, y0, x1, y1;
};

/// The rectangles that draw `text`. The font knows printable ASCII only; other bytes
/// are drawn as '?'.
std::vector<FontQuad> font_quads(const std::string& text);

/// Width of `text` in font pixels.
long font_width(const std::string& text);

/// Height of capital letters and digits, in font pixels.
inline constexpr long kFontCapHeight = 7;

}  // namespace tapegrad::data::detail
