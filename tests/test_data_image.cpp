// PNG output: valid files (signature, chunk CRCs, decoded pixels), image grids of
// the right size, and the loss plot.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <tapegrad/layers/data/image.hpp>
#include <vector>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

// A PNG decoder for checking what we wrote; static, so it clashes with nothing.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace fs = std::filesystem;
using namespace tapegrad::io;
using namespace tapegrad::data;

namespace {

struct ImageTempDir {
  fs::path path;
  ImageTempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("tapegrad_test_image_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ImageTempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::vector<std::uint8_t> read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

/// Checks the PNG structure: signature, IHDR first, every chunk's CRC, IEND last.
/// Returns {width, height, colour type}.
struct PngInfo {
  std::uint32_t width = 0, height = 0;
  int colour_type = -1;
};
PngInfo check_png(const std::vector<std::uint8_t>& b) {
  static const std::uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  REQUIRE(b.size() > 8 + 25 + 12);
  REQUIRE(std::equal(sig, sig + 8, b.begin()));
  PngInfo info;
  std::size_t pos = 8;
  std::string last;
  bool first = true;
  while (pos + 12 <= b.size()) {
    const std::uint32_t len = be32(&b[pos]);
    REQUIRE(pos + 12 + len <= b.size());
    const std::string type(b.begin() + static_cast<std::ptrdiff_t>(pos + 4),
                           b.begin() + static_cast<std::ptrdiff_t>(pos + 8));
    const auto crc = static_cast<std::uint32_t>(crc32(0, &b[pos + 4], 4 + len));
    CHECK(crc == be32(&b[pos + 8 + len]));
    if (first) {
      REQUIRE(type == "IHDR");
      info.width = be32(&b[pos + 8]);
      info.height = be32(&b[pos + 12]);
      info.colour_type = b[pos + 17];
      first = false;
    }
    last = type;
    pos += 12 + len;
  }
  CHECK(pos == b.size());
  CHECK(last == "IEND");
  return info;
}

/// Decoded pixels of a PNG file, with stb_image.
std::vector<std::uint8_t> decode(const std::vector<std::uint8_t>& png, int& w, int& h,
                                 int channels) {
  int n = 0;
  unsigned char* px =
      stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &n, channels);
  REQUIRE(px != nullptr);
  std::vector<std::uint8_t> out(px, px + static_cast<std::size_t>(w) * static_cast<std::size_t>(h) *
                                             static_cast<std::size_t>(channels));
  stbi_image_free(px);
  return out;
}

std::vector<std::size_t> shape_of(const auto& a) { return {a.shape().begin(), a.shape().end()}; }

}  // namespace

TEST_CASE("image: save_png_gray writes a valid PNG with the right pixels") {
  ImageTempDir dir;
  tapegrad::Array<float> img = {{0.0f, 0.5f, 1.0f},
                                {-3.0f, 2.0f, 0.2f}};  // out-of-range values clamp
  save_png_gray(dir / "g.png", img);
  const auto bytes = read_all(dir / "g.png");
  const PngInfo info = check_png(bytes);
  CHECK(info.width == 3);
  CHECK(info.height == 2);
  CHECK(info.colour_type == 0);  // greyscale
  int w = 0, h = 0;
  const auto px = decode(bytes, w, h, 1);
  CHECK(px == std::vector<std::uint8_t>{0, 128, 255, 0, 255, 51});
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);

  CHECK_THROWS_WITH_AS(
      save_png_gray(dir / "bad.png", xt::zeros<float>({1, 2, 3})),
      doctest::Contains("save_png_gray: expected a greyscale image [H, W], got shape [1, 2, 3]"),
      std::invalid_argument);
  tapegrad::Array<float> nan = xt::zeros<float>({2, 2});
  nan(1, 0) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(save_png_gray(dir / "bad.png", nan),
                       doctest::Contains("pixel (1, 0) is NaN"), std::invalid_argument);
  CHECK_THROWS_AS(save_png_gray(dir / "bad.png", tapegrad::Array<float>::from_shape({0, 4})),
                  std::invalid_argument);
  CHECK_FALSE(fs::exists(dir / "bad.png"));
  CHECK_THROWS_WITH_AS(save_png_gray(dir / "no" / "such" / "dir.png", img),
                       doctest::Contains("save_png_gray: "), IoError);
}

TEST_CASE("image: save_png_rgb round trips pixels") {
  ImageTempDir dir;
  tapegrad::Array<std::uint8_t> img = xt::zeros<std::uint8_t>({4, 5, 3});
  for (std::size_t i = 0; i < img.size(); ++i) img.data()[i] = static_cast<std::uint8_t>(i * 3);
  save_png_rgb(dir / "c.png", img);
  const auto bytes = read_all(dir / "c.png");
  const PngInfo info = check_png(bytes);
  CHECK(info.width == 5);
  CHECK(info.height == 4);
  CHECK(info.colour_type == 2);  // RGB
  int w = 0, h = 0;
  const auto px = decode(bytes, w, h, 3);
  CHECK(std::equal(px.begin(), px.end(), img.data(), img.data() + img.size()));
  CHECK_THROWS_AS(save_png_rgb(dir / "x.png", xt::zeros<std::uint8_t>({4, 5, 4})),
                  std::invalid_argument);
}

TEST_CASE("image: image_grid tiles [N,1,H,W] and [N,H,W] with padding") {
  tapegrad::Array<float> batch = xt::zeros<float>({5, 1, 3, 2});
  for (std::size_t k = 0; k < 5; ++k) xt::view(batch, k) = 0.1f * static_cast<float>(k);
  const auto grid = image_grid(batch, 2, 3, 1, 1.0f);
  CHECK(shape_of(grid) == std::vector<std::size_t>{2 * 3 + 3 * 1, 3 * 2 + 4 * 1});
  // Image k sits at row k / 3, column k % 3.
  CHECK(grid(1, 1) == 0.0f);
  CHECK(grid(1 + 2, 1 + 2 + 1 + 1) == doctest::Approx(0.1f));        // image 1, its row 2, col 1
  CHECK(grid(1 + 2, 1 + 2 * (2 + 1) + 1) == doctest::Approx(0.2f));  // image 2
  CHECK(grid(1 + 3 + 1, 1 + 2 + 1) == doctest::Approx(0.4f));        // image 4
  CHECK(grid(0, 0) == 1.0f);                                         // padding
  CHECK(grid(1 + 3 + 1, 1 + 2 + 1 + 2 + 1) == 1.0f);                 // the empty sixth cell
  CHECK(grid(1, 3) == 1.0f);                                         // between tiles

  const auto g3 = image_grid(xt::view(batch, xt::all(), 0), 1, 5, 0);
  CHECK(shape_of(g3) == std::vector<std::size_t>{3, 10});
  CHECK(g3(2, 9) == doctest::Approx(0.4f));

  CHECK_THROWS_WITH_AS(image_grid(batch, 2, 2),
                       doctest::Contains("5 images do not fit in 2x2 = 4 cells"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      image_grid(xt::zeros<float>({5, 3, 3, 2}), 2, 3),
      doctest::Contains("expected images [N, 1, H, W] or [N, H, W], got shape [5, 3, 3, 2]"),
      std::invalid_argument);
  CHECK_THROWS_AS(image_grid(batch, 0, 3), std::invalid_argument);

  ImageTempDir dir;
  save_png_gray(dir / "grid.png", image_grid(batch, 2, 3));
  const PngInfo info = check_png(read_all(dir / "grid.png"));
  CHECK(info.width == 3 * 2 + 4 * 2);
  CHECK(info.height == 2 * 3 + 3 * 2);
}

TEST_CASE("image: plot_losses_png draws both curves, axes and legend") {
  ImageTempDir dir;
  std::vector<double> epochs, train, test;
  for (int e = 1; e <= 20; ++e) {
    epochs.push_back(e);
    train.push_back(0.6 * std::exp(-0.15 * e) + 0.05);
    test.push_back(0.65 * std::exp(-0.12 * e) + 0.08);
  }
  const std::vector<PlotSeries> series = {{"train", epochs, train}, {"test", epochs, test}};
  plot_losses_png(dir / "loss.png", series, {.width = 500, .height = 300, .title = "autoencoder"});
  const auto bytes = read_all(dir / "loss.png");
  const PngInfo info = check_png(bytes);
  CHECK(info.width == 500);
  CHECK(info.height == 300);
  CHECK(info.colour_type == 2);

  int w = 0, h = 0;
  const auto px = decode(bytes, w, h, 3);
  std::set<std::uint32_t> colours;
  for (std::size_t i = 0; i + 2 < px.size(); i += 3)
    colours.insert((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
  CHECK(colours.count(0x1f77b4) == 1);  // first series: tab10 blue
  CHECK(colours.count(0xff7f0e) == 1);  // second series: tab10 orange
  CHECK(colours.count(0xffffff) == 1);
  CHECK(colours.count(0x3c3c3c) == 1);  // axes

  const auto img = render_line_plot(series, {.log_y = true});
  CHECK(shape_of(img) == std::vector<std::size_t>{400, 640, 3});

  // Degenerate data still gives a picture: one point, a constant, NaN gaps, no series.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_NOTHROW(render_line_plot({{"one", {1.0}, {0.5}}}));
  CHECK_NOTHROW(
      render_line_plot({{"flat", {0, 1, 2}, {1, 1, 1}}, {"nan", {0, 1, 2}, {nan, 2, nan}}}));
  CHECK_NOTHROW(render_line_plot({}));
  CHECK_NOTHROW(render_line_plot({{"neg", {0, 1}, {-1, 0}}}, {.log_y = true}));
  CHECK_NOTHROW(render_line_plot({{"big", {0, 1}, {1e17, 1e17 + 16}}}));
  CHECK_THROWS_WITH_AS(render_line_plot({{"bad", {1, 2}, {1}}}),
                       doctest::Contains("series 'bad' has 2 x values but 1 y values"),
                       std::invalid_argument);
  CHECK_THROWS_AS(render_line_plot(series, {.width = 10}), std::invalid_argument);
  CHECK_THROWS_AS(render_line_plot({{"huge", {0, 1}, {-1e308, 1e308}}}), std::invalid_argument);

  if (const char* out = std::getenv("TAPEGRAD_PLOT_OUT")) {  // to look at the picture
    plot_losses_png(out, series, {.title = "autoencoder on MNIST"});
  }
}
