#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <tapegrad/core/io/atomic_file.hpp>
#include <tapegrad/layers/data/detail/picture.hpp>
#include <tapegrad/layers/data/detail/pixel_font.hpp>
#include <tapegrad/layers/data/plot.hpp>
#include <tapegrad/layers/data/png.hpp>

namespace tapegrad::data {

using detail::kMaxSide;
using io::write_file_atomic;

namespace {

struct Rgb {
  std::uint8_t r, g, b;
};

// matplotlib's "tab10", so the picture reads like the plots people know.
constexpr std::array<Rgb, 10> kPalette = {{{31, 119, 180},
                                           {255, 127, 14},
                                           {44, 160, 44},
                                           {214, 39, 40},
                                           {148, 103, 189},
                                           {140, 86, 75},
                                           {227, 119, 194},
                                           {127, 127, 127},
                                           {188, 189, 34},
                                           {23, 190, 207}}};
constexpr Rgb kWhite{255, 255, 255}, kGrid{228, 228, 228}, kAxis{60, 60, 60}, kText{30, 30, 30};

/// An RGB raster with clipped drawing primitives.
class Canvas {
 public:
  Canvas(std::size_t w, std::size_t h)
      : w_(static_cast<long>(w)),
        h_(static_cast<long>(h)),
        px_(tapegrad::Array<std::uint8_t>::from_shape({h, w, 3})) {
    std::fill(px_.begin(), px_.end(), std::uint8_t{255});
    reset_clip();
  }

  void set_clip(long x0, long y0, long x1, long y1) {
    cx0_ = std::max(0L, x0), cy0_ = std::max(0L, y0), cx1_ = std::min(w_, x1),
    cy1_ = std::min(h_, y1);
  }
  void reset_clip() { set_clip(0, 0, w_, h_); }

  void set(long x, long y, Rgb c) {
    if (x < cx0_ || y < cy0_ || x >= cx1_ || y >= cy1_) return;
    std::uint8_t* p = px_.data() + (static_cast<std::size_t>(y) * static_cast<std::size_t>(w_) +
                                    static_cast<std::size_t>(x)) *
                                       3;
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  /// Fills [x0, x1) x [y0, y1).
  void fill(long x0, long y0, long x1, long y1, Rgb c) {
    x0 = std::max(x0, cx0_), y0 = std::max(y0, cy0_), x1 = std::min(x1, cx1_),
    y1 = std::min(y1, cy1_);
    for (long y = y0; y < y1; ++y)
      for (long x = x0; x < x1; ++x) set(x, y, c);
  }
  /// A line `thickness` pixels wide between two points (Bresenham with a square brush).
  void line(double fx0, double fy0, double fx1, double fy1, Rgb c, int thickness) {
    // The callers map data into the canvas; the clamp only bounds the loop.
    auto clampc = [](double v) { return static_cast<long>(std::lround(std::clamp(v, -1e5, 1e5))); };
    long x0 = clampc(fx0), y0 = clampc(fy0);
    const long x1 = clampc(fx1), y1 = clampc(fy1);
    const long dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const long sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    long err = dx + dy;
    const long lo = -(thickness - 1) / 2, hi = thickness / 2;
    while (true) {
      fill(x0 + lo, y0 + lo, x0 + hi + 1, y0 + hi + 1, c);
      if (x0 == x1 && y0 == y1) break;
      const long e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  /// Text with its top-left corner at (x, y), each font pixel `scale` pixels wide.
  void text(long x, long y, const std::string& s, Rgb c, int scale) {
    if (s.empty()) return;
    for (const detail::FontQuad& q : detail::font_quads(s)) {
      fill(x + std::lround(q.x0 * scale), y + std::lround(q.y0 * scale),
           x + std::lround(q.x1 * scale), y + std::lround(q.y1 * scale), c);
    }
  }
  static long text_width(const std::string& s, int scale) { return detail::font_width(s) * scale; }
  /// Height of capital letters and digits in the font, in pixels.
  static long cap_height(int scale) { return detail::kFontCapHeight * scale; }

  tapegrad::Array<std::uint8_t> take() && { return std::move(px_); }

 private:
  long w_, h_;
  tapegrad::Array<std::uint8_t> px_;
  long cx0_ = 0, cy0_ = 0, cx1_ = 0, cy1_ = 0;
};

/// A "nice" tick spacing near range / target: 1, 2 or 5 times a power of ten.
double nice_step(double range, int target) {
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  return (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * mag;
}

std::string tick_label(double v, double step) {
  char buf[32];
  if (std::abs(v) < step * 1e-6) v = 0.0;  // no "-0" or "1e-17" at zero
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  if ((std::abs(v) >= 1e5 || decimals > 4) && v != 0.0) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  }
  return buf;
}

struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;        // in axis units (log10 for a log axis)
  std::vector<std::string> labels;  // what is printed at each tick
};

Axis linear_axis(double lo, double hi, bool snap, int target) {
  if (!std::isfinite(hi - lo) || std::abs(lo) > 1e300 || std::abs(hi) > 1e300) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", std::max(std::abs(lo), std::abs(hi)));
    throw std::invalid_argument(std::string("render_line_plot: values up to ") + buf +
                                " are too large to plot");
  }
  if (!(hi > lo)) {
    const double half = lo != 0.0 ? std::abs(lo) * 0.1 : 1.0;
    lo -= half, hi += half;
  } else if (snap) {
    const double margin = (hi - lo) * 0.05;
    lo -= margin, hi += margin;
  }
  Axis a;
  const double step = nice_step(hi - lo, target);
  if (snap) lo = std::floor(lo / step) * step, hi = std::ceil(hi / step) * step;
  a.lo = lo, a.hi = hi;
  // Ticks by index, not by repeated addition: at 1e17 adding 2 changes nothing.
  const double first = std::ceil(lo / step - 1e-9) * step;
  const double count = std::floor((hi - first) / step + 1e-9);
  for (int i = 0; i <= count && i <= 100; ++i) {
    const double t = first + i * step;
    a.ticks.push_back(t);
    a.labels.push_back(tick_label(t, step));
  }
  return a;
}

Axis log_axis(double lo, double hi) {  // lo, hi: log10 of the data range
  Axis a;
  a.lo = std::floor(lo), a.hi = std::ceil(hi);
  if (a.hi <= a.lo) a.hi = a.lo + 1;
  const bool dense = a.hi - a.lo <= 2;
  for (double e = a.lo; e <= a.hi; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1.0 && !dense) continue;
      const double t = e + std::log10(m);
      if (t > a.hi + 1e-9) continue;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", m * std::pow(10.0, e));
      a.ticks.push_back(t);
      a.labels.push_back(buf);
    }
  }
  return a;
}

}  // namespace

tapegrad::Array<std::uint8_t> render_line_plot(const std::vector<PlotSeries>& series,
                                               const PlotOptions& opt) {
  if (opt.width < 160 || opt.height < 120 || opt.width > kMaxSide || opt.height > kMaxSide) {
    throw std::invalid_argument("render_line_plot: size " + std::to_string(opt.width) + "x" +
                                std::to_string(opt.height) + " must be between 160x120 and " +
                                std::to_string(kMaxSide) + "x" + std::to_string(kMaxSide));
  }
  for (const auto& s : series) {
    if (s.x.size() != s.y.size()) {
      throw std::invalid_argument("render_line_plot: series '" + s.name + "' has " +
                                  std::to_string(s.x.size()) + " x values but " +
                                  std::to_string(s.y.size()) + " y values");
    }
  }
  // A point is drawn when both coordinates are finite (and y > 0 on a log axis).
  auto usable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!opt.log_y || y > 0.0);
  };
  auto ty = [&](double y) { return opt.log_y ? std::log10(y) : y; };
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const auto& s : series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) continue;
      xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, ty(s.y[i])), ymax = std::max(ymax, ty(s.y[i]));
    }
  }
  if (!(xmin <= xmax)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;  // nothing to draw: empty axes

  const int scale = opt.width >= 1200 && opt.height >= 750 ? 2 : 1;
  const int thickness = 2 * scale;
  const long W = static_cast<long>(opt.width), H = static_cast<long>(opt.height);
  const long cap = Canvas::cap_height(scale);

  const Axis ax = linear_axis(xmin, xmax, false, static_cast<int>(std::max(2L, W / 110)));
  const Axis ay = opt.log_y ? log_axis(ymin, ymax)
                            : linear_axis(ymin, ymax, true, static_cast<int>(std::max(2L, H / 70)));

  long label_w = 0;
  for (const auto& l : ay.labels) label_w = std::max(label_w, Canvas::text_width(l, scale));
  const long left = label_w + 14 * scale, right = W - 16 * scale;
  const long top = (opt.title.empty() ? 20 : 36) * scale, bottom = H - 36 * scale;
  if (right - left < 40 || bottom - top < 40) {
    throw std::invalid_argument("render_line_plot: " + std::to_string(opt.width) + "x" +
                                std::to_string(opt.height) + " leaves no room for the plot");
  }
  auto px = [&](double x) {
    return left + (x - ax.lo) / (ax.hi - ax.lo) * static_cast<double>(right - left);
  };
  auto py = [&](double y) {
    return bottom - (y - ay.lo) / (ay.hi - ay.lo) * static_cast<double>(bottom - top);
  };

  Canvas c(opt.width, opt.height);
  // Grid and ticks.
  for (std::size_t i = 0; i < ay.ticks.size(); ++i) {
    const long y = std::lround(py(ay.ticks[i]));
    c.fill(left, y, right, y + 1, kGrid);
    c.fill(left - 4 * scale, y, left, y + 1, kAxis);
    c.text(left - 6 * scale - Canvas::text_width(ay.labels[i], scale), y - cap / 2, ay.labels[i],
           kText, scale);
  }
  for (std::size_t i = 0; i < ax.ticks.size(); ++i) {
    const long x = std::lround(px(ax.ticks[i]));
    c.fill(x, top, x + 1, bottom, kGrid);
    c.fill(x, bottom, x + 1, bottom + 4 * scale, kAxis);
    c.text(x - Canvas::text_width(ax.labels[i], scale) / 2, bottom + 7 * scale, ax.labels[i], kText,
           scale);
  }
  // Frame.
  c.fill(left, top, right + 1, top + 1, kAxis);
  c.fill(left, bottom, right + 1, bottom + 1, kAxis);
  c.fill(left, top, left + 1, bottom + 1, kAxis);
  c.fill(right, top, right + 1, bottom + 1, kAxis);

  // Curves, clipped to the frame.
  c.set_clip(left + 1, top + 1, right, bottom);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Rgb colour = kPalette[k % kPalette.size()];
    const auto& s = series[k];
    bool have_prev = false;
    double prev_x = 0, prev_y = 0;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) {
        have_prev = false;  // a gap, not a line across the bad point
        continue;
      }
      const double x = px(s.x[i]), y = py(ty(s.y[i]));
      const bool isolated = !have_prev && (i + 1 >= s.x.size() || !usable(s.x[i + 1], s.y[i + 1]));
      if (have_prev) c.line(prev_x, prev_y, x, y, colour, thickness);
      if (isolated) c.line(x, y, x, y, colour, thickness + 2 * scale);  // a lone point: a dot
      have_prev = true, prev_x = x, prev_y = y;
    }
  }
  c.reset_clip();

  // Legend, top right inside the frame.
  if (!series.empty()) {
    long name_w = 0;
    for (const auto& s : series) name_w = std::max(name_w, Canvas::text_width(s.name, scale));
    const long row = 13 * scale, sample = 18 * scale, padding = 6 * scale;
    const long box_w = padding * 3 + sample + name_w,
               box_h = padding * 2 + row * static_cast<long>(series.size()) - 4 * scale;
    const long bx = right - 8 * scale - box_w, by = top + 8 * scale;
    c.fill(bx, by, bx + box_w, by + box_h, kWhite);
    c.fill(bx, by, bx + box_w, by + 1, kGrid);
    c.fill(bx, by + box_h - 1, bx + box_w, by + box_h, kGrid);
    c.fill(bx, by, bx + 1, by + box_h, kGrid);
    c.fill(bx + box_w - 1, by, bx + box_w, by + box_h, kGrid);
    for (std::size_t k = 0; k < series.size(); ++k) {
      const long y = by + padding + static_cast<long>(k) * row;
      const Rgb colour = kPalette[k % kPalette.size()];
      c.fill(bx + padding, y + cap / 2 - scale, bx + padding + sample, y + cap / 2 + scale, colour);
      c.text(bx + 2 * padding + sample, y, series[k].name, kText, scale);
    }
  }

  // Labels and title.
  c.text((left + right) / 2 - Canvas::text_width(opt.x_label, scale) / 2, H - 14 * scale,
         opt.x_label, kText, scale);
  c.text(4 * scale, top - cap - 6 * scale, opt.y_label + (opt.log_y ? " (log)" : ""), kText, scale);
  if (!opt.title.empty()) {
    c.text(W / 2 - Canvas::text_width(opt.title, 2 * scale) / 2, 6 * scale, opt.title, kText,
           2 * scale);
  }
  return std::move(c).take();
}

void plot_losses_png(const std::filesystem::path& path, const std::vector<PlotSeries>& series,
                     const PlotOptions& options) {
  const auto png = encode_png_rgb(render_line_plot(series, options), "plot_losses_png");
  write_file_atomic(path, png, "plot_losses_png");
}

}  // namespace tapegrad::data
