#include <algorithm>
#include <cstring>
#include <tapegrad/layers/data/detail/pixel_font.hpp>

// Every function in stb_easy_font is static, so its symbols stay in this file.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

namespace tapegrad::data::detail {

namespace {

// The font indexes its glyph table with c - 32, so a byte outside printable ASCII
// would read past it; the copy is also the mutable char* the font takes.
std::string printable_ascii(const std::string& s) {
  std::string out = s;
  for (char& ch : out)
    if (static_cast<unsigned char>(ch) < 32 || static_cast<unsigned char>(ch) > 126) ch = '?';
  return out;
}

}  // namespace

std::vector<FontQuad> font_quads(const std::string& text) {
  std::string copy = printable_ascii(text);
  // stb_easy_font silently drops what does not fit; its documentation expects ~270
  // bytes a character on average.
  std::vector<char> buf(copy.size() * 400 + 512);
  const int quads =
      stb_easy_font_print(0, 0, copy.data(), nullptr, buf.data(), static_cast<int>(buf.size()));
  std::vector<FontQuad> out;
  out.reserve(static_cast<std::size_t>(quads));
  for (int q = 0; q < quads; ++q) {
    float vx[4], vy[4];
    for (int v = 0; v < 4; ++v) {
      std::memcpy(&vx[v], buf.data() + (q * 4 + v) * 16, sizeof(float));
      std::memcpy(&vy[v], buf.data() + (q * 4 + v) * 16 + 4, sizeof(float));
    }
    const auto [xmin, xmax] = std::minmax_element(vx, vx + 4);
    const auto [ymin, ymax] = std::minmax_element(vy, vy + 4);
    out.push_back({*xmin, *ymin, *xmax, *ymax});
  }
  return out;
}

long font_width(const std::string& text) {
  std::string copy = printable_ascii(text);
  return static_cast<long>(stb_easy_font_width(copy.data()));
}

}  // namespace tapegrad::data::detail
