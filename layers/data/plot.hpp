#pragma once
// A small line plot of training curves, good enough for a README: drawn by tapegrad
// itself (no plotting library), written as a PNG.
#include <cstdint>
#include <filesystem>
#include <string>
#include <tapegrad/core/allocator.hpp>
#include <vector>

namespace tapegrad::data {

/// One curve of a line plot: its legend name and its points (x[i], y[i]).
/// Non-finite y values (a diverged loss) leave a gap in the line.
struct PlotSeries {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
};

/// Look of a line plot.
struct PlotOptions {
  std::size_t width = 640;   ///< pixels, at least 160
  std::size_t height = 400;  ///< pixels, at least 120
  std::string title;         ///< drawn above the plot when not empty
  std::string x_label = "epoch";
  std::string y_label = "loss";
  bool log_y = false;  ///< logarithmic y axis (points with y <= 0 are skipped)
};

/// Draws `series` as coloured lines on white, with axes, grid, numbered ticks and
/// a legend (built-in pixel font), into an RGB image [height, width, 3]. Throws
/// std::invalid_argument when a series has different numbers of x and y values
/// or the size is too small.
tapegrad::Array<std::uint8_t> render_line_plot(const std::vector<PlotSeries>& series,
                                               const PlotOptions& options = {});

/// Renders `series` (e.g. {{"train", epochs, train_loss}, {"test", epochs,
/// test_loss}}) with render_line_plot and writes it as an RGB PNG, atomically.
void plot_losses_png(const std::filesystem::path& path, const std::vector<PlotSeries>& series,
                     const PlotOptions& options = {});

}  // namespace tapegrad::data
