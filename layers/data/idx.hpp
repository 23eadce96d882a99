#pragma once
// IDX files, the format of MNIST and Fashion-MNIST: a 4-byte magic (0, 0, type,
// number of dimensions), the dimensions as big-endian uint32, then the elements
// in C order. Only the unsigned-byte type (0x08) is supported, which is what the
// image (0x00000803) and label (0x00000801) files use. Files may be gzipped.
#include <cstdint>
#include <filesystem>
#include <span>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/io/atomic_file.hpp>
#include <vector>

namespace tapegrad::data {

/// The content of an IDX file: its dimensions and its bytes (data.shape() == dims).
struct IdxArray {
  std::vector<std::size_t> dims;
  tapegrad::Array<std::uint8_t> data;
};

/// Reads an IDX file, gzip-compressed (detected by its 1f 8b magic, whatever the
/// name) or plain. Checks the magic, the element type (unsigned byte), that every
/// dimension is non-zero, and that the file holds exactly the bytes the header
/// announces: truncated data and trailing bytes are errors. Throws IoError
/// naming the file and what was expected and found, e.g. "read_idx: f.gz:
/// truncated: header says 60000x28x28 = 47040000 bytes of data, decompressed
/// data has 1234".
IdxArray read_idx(const std::filesystem::path& path);

/// Parses the bytes of an IDX file (plain or gzip) as read_idx does; `name` stands
/// for the file in messages.
IdxArray parse_idx(std::span<const std::uint8_t> bytes, const std::filesystem::path& name,
                   const char* function = "parse_idx");

/// Writes `data` (1 to 255 dimensions, each in 1..2^32-1) as an unsigned-byte IDX
/// file, gzip-compressed when `path` ends in ".gz"; atomic (temporary file +
/// rename), so a failure leaves a previous file intact.
void write_idx(const std::filesystem::path& path, const tapegrad::Array<std::uint8_t>& data);

/// Which half of MNIST to load: train-* (60000 images) or t10k-* (10000 images).
enum class MnistSplit { Train, Test };

/// A split of an MNIST-format data set.
struct MnistData {
  tapegrad::Array<float> images;         ///< [N, 1, H, W] (28x28 for MNIST), pixel / 255 in [0, 1]
  tapegrad::Array<std::uint8_t> labels;  ///< [N], each in 0..9
};

/// Loads `split` from `dir`, which holds {train,t10k}-images-idx3-ubyte and
/// {train,t10k}-labels-idx1-ubyte, each plain or with ".gz" (the plain one is
/// preferred when both exist; the "train-images.idx3-ubyte" spelling of some
/// mirrors is accepted too), as scripts/fetch_mnist.sh and Debian's
/// dataset-fashion-mnist package leave them. Checks that the images are 3-d
/// [N, H, W], the labels 1-d [N] with values 0..9, and that both counts agree.
MnistData load_mnist(const std::filesystem::path& dir, MnistSplit split);

}  // namespace tapegrad::data
