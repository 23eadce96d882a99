#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <tapegrad/layers/data/detail/picture.hpp>
#include <tapegrad/layers/data/png.hpp>

// PNG encoding: stb_image_write, compiled here with its functions static so that
// no other translation unit (ours or a user's) can clash with its symbols. Its
// deflate is replaced by zlib's, which compresses better and is already linked.
namespace {
unsigned char* tapegrad_png_deflate(unsigned char* data, int data_len, int* out_len, int quality) {
  uLongf size = compressBound(static_cast<uLong>(data_len));
  auto* out = static_cast<unsigned char*>(std::malloc(size));  // stb frees it with free()
  if (out == nullptr) return nullptr;
  const int level = std::clamp(quality, 1, 9);
  if (compress2(out, &size, data, static_cast<uLong>(data_len), level) != Z_OK) {
    std::free(out);
    return nullptr;
  }
  *out_len = static_cast<int>(size);
  return out;
}
}  // namespace

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wtype-limits"
#define STBIW_ZLIB_COMPRESS tapegrad_png_deflate
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace tapegrad::data {

using detail::kMaxSide;
using detail::shape_text;
using io::IoError;
using io::write_file_atomic;

namespace {

void check_image_size(const char* function, std::size_t h, std::size_t w, const auto& shape) {
  if (h == 0 || w == 0 || h > kMaxSide || w > kMaxSide) {
    throw std::invalid_argument(std::string(function) + ": image of shape " + shape_text(shape) +
                                ": height and width must be in 1.." + std::to_string(kMaxSide));
  }
}

std::vector<std::uint8_t> encode(const char* function, const std::uint8_t* pixels, std::size_t w,
                                 std::size_t h, int channels) {
  std::vector<std::uint8_t> png;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<std::uint8_t>*>(context);
    const auto* p = static_cast<const std::uint8_t*>(data);
    out->insert(out->end(), p, p + size);
  };
  const int ok = stbi_write_png_to_func(append, &png, static_cast<int>(w), static_cast<int>(h),
                                        channels, pixels, static_cast<int>(w) * channels);
  if (ok == 0) throw IoError(std::string(function) + ": PNG encoding failed (out of memory?)");
  return png;
}

}  // namespace

std::vector<std::uint8_t> encode_png_gray(const tapegrad::Array<float>& image,
                                          const char* function) {
  if (image.dimension() != 2) {
    throw std::invalid_argument(
        std::string(function) + ": expected a greyscale image [H, W], got shape " +
        shape_text(image.shape()) + " (use image_grid to tile a batch [N, 1, H, W])");
  }
  const std::size_t h = image.shape(0), w = image.shape(1);
  check_image_size(function, h, w, image.shape());
  std::vector<std::uint8_t> pixels(h * w);
  const float* src = image.data();
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    const float v = src[i];
    if (std::isnan(v)) {
      throw std::invalid_argument(std::string(function) + ": pixel (" + std::to_string(i / w) +
                                  ", " + std::to_string(i % w) + ") is NaN");
    }
    pixels[i] = static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
  }
  return encode(function, pixels.data(), w, h, 1);
}

std::vector<std::uint8_t> encode_png_rgb(const tapegrad::Array<std::uint8_t>& image,
                                         const char* function) {
  if (image.dimension() != 3 || image.shape(2) != 3) {
    throw std::invalid_argument(std::string(function) +
                                ": expected an RGB image [H, W, 3], got shape " +
                                shape_text(image.shape()));
  }
  check_image_size(function, image.shape(0), image.shape(1), image.shape());
  return encode(function, image.data(), image.shape(1), image.shape(0), 3);
}

void save_png_gray(const std::filesystem::path& path, const tapegrad::Array<float>& image) {
  const auto png = encode_png_gray(image, "save_png_gray");
  write_file_atomic(path, png, "save_png_gray");
}

void save_png_rgb(const std::filesystem::path& path, const tapegrad::Array<std::uint8_t>& image) {
  const auto png = encode_png_rgb(image, "save_png_rgb");
  write_file_atomic(path, png, "save_png_rgb");
}

}  // namespace tapegrad::data
