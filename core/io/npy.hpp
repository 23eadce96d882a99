#pragma once
// The NumPy .npy array format: one array as a header (a Python dict literal naming
// dtype, order and shape) followed by its raw elements. An .npz archive (npz.hpp) is
// a zip (zip.hpp) of these.
//
// Writing: format 1.0, little-endian, C order, header padded so the data starts at a
// multiple of 64 bytes, as numpy.save writes it. Reading accepts formats 1.0 to 3.0,
// C or Fortran order, and never trusts the bytes: every size is checked, and anything
// unexpected is an IoError naming the function, the file, the member and the problem.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/io/atomic_file.hpp>
#include <variant>
#include <vector>

namespace tapegrad::io {

/// One array of an npz archive: float32 ('<f4'), float64 ('<f8') or int64 ('<i8').
/// On load, other integer dtypes ('|b1', '|u1', '|i1', '<u2', '<i2', '<u4', '<i4')
/// are widened to int64; anything else is an error.
using NpzArray =
    std::variant<tapegrad::Array<float>, tapegrad::Array<double>, tapegrad::Array<std::int64_t>>;

/// NumPy's name for the dtype an NpzArray holds: "<f4", "<f8" or "<i8".
const char* npz_dtype(const NpzArray& a);

/// Shape of an NpzArray.
std::vector<std::size_t> npz_shape(const NpzArray& a);

/// The NPY 1.0 header numpy.save writes for `a`. Throws IoError naming `function`,
/// `name` and `member` when it would exceed the format's 65535 bytes.
std::vector<std::uint8_t> npy_header(const NpzArray& a, const std::filesystem::path& name,
                                     const char* function = "npy_header",
                                     std::string_view member = {});

/// The bytes that follow the header: `a`'s elements in C order, little-endian. A view
/// into `a`, so a large array is written without a copy.
std::span<const std::uint8_t> npy_data(const NpzArray& a);

/// True when `bytes` start with the .npy magic, so callers can tell a lone array from
/// the archive they expected.
bool has_npy_magic(std::span<const std::uint8_t> bytes);

/// Parses one .npy array (header and data). Messages read "function: name: member
/// 'member': ..." (no member part when `member` is empty). Throws IoError on any
/// malformed, truncated or unsupported content.
NpzArray parse_npy(std::span<const std::uint8_t> bytes, const std::filesystem::path& name,
                   const char* function = "parse_npy", std::string_view member = {});

}  // namespace tapegrad::io
