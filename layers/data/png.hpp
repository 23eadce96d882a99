#pragma once
// PNG files of images for people to look at: what an autoencoder reconstructs, a
// training curve. Encoded in memory (stb_image_write, with zlib's deflate) and
// written atomically, so a viewer never sees half a picture.
#include <cstdint>
#include <filesystem>
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

}  // namespace tapegrad::data
