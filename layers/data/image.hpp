#pragma once
// Pictures for people: PNG files of images and image grids (what an autoencoder
// reconstructs) and a small line plot of training curves, good enough for a
// README. PNGs are encoded in memory (stb_image_write) and written atomically.
#include <cstdint>
#include <filesystem>
#include <string>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/io/atomic_file.hpp>
#include <vector>

namespace tapegrad::data {

/// PNG bytes of a greyscale image [H, W] whose values are in [0, 1] (0 black,
/// 1 white; values outside are clamped). Throws std::invalid_argument naming
/// `function` for another shape, an empty image or a NaN pixel.
std::vector<std::uint8_t> encode_png_gray(const tapegrad::Array<float>& image,
                                          const char* function = "encode_png_gray");

/// PNG bytes of an RGB image [H, W, 3] (8 bits per channel).
std::vector<std::uint8_t> encode_png_rgb(const tapegrad::Array<std::uint8_t>& image,
                                         const char* function = "encode_png_rgb");

/// Writes a greyscale image [H, W] with values in [0, 1] as a PNG, atomically.
void save_png_gray(const std::filesystem::path& path, const tapegrad::Array<float>& image);

/// Writes an RGB image [H, W, 3] as a PNG, atomically.
void save_png_rgb(const std::filesystem::path& path, const tapegrad::Array<std::uint8_t>& image);

/// Tiles images [N, 1, H, W] or [N, H, W] row by row into one image
/// [rows*H + (rows+1)*pad, cols*W + (cols+1)*pad], with `pad` pixels of
/// `pad_value` around and between the tiles; cells past the N-th stay
/// pad_value. Throws std::invalid_argument when N > rows*cols, rows or cols is
/// 0, or the shape is not one of those above.
tapegrad::Array<float> image_grid(const tapegrad::Array<float>& images, std::size_t rows,
                                  std::size_t cols, std::size_t pad = 2, float pad_value = 1.0f);

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
