#pragma once
// NumPy .npz archives: the checkpoint format. A checkpoint is a zip whose members
// are "<key>.npy" arrays, so `numpy.load(path)[key]` reads it with no tapegrad
// code, and arrays saved with numpy.savez / numpy.savez_compressed load here.
//
// Writing: zip "stored" members (no compression), NPY format 1.0, little-endian,
// C order, header padded to 64 bytes as NumPy pads it; written atomically
// (temporary file + rename). Archives over 4 GiB (which would need ZIP64) are
// refused with an error.
//
// Reading is strict and never trusts the file: every offset and size is checked
// against the file before use, CRCs are verified, and anything unexpected is an
// IoError naming the file, the member and the problem.
//
// The two formats underneath have their own headers: npy.hpp (one array, and the
// NpzArray type) and zip.hpp (the container).
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/io/atomic_file.hpp>
#include <tapegrad/core/io/npy.hpp>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace tapegrad::io {

/// Ordered string -> array map: the content of an .npz file. Keys keep insertion
/// order (which is the member order in the archive) and are unique.
class NpzDict {
 public:
  using value_type = std::pair<std::string, NpzArray>;

  NpzDict() = default;
  /// Builds from pairs; throws std::invalid_argument on a duplicate key.
  NpzDict(std::initializer_list<value_type> items);

  /// Adds `key`; throws std::invalid_argument if it is already present or invalid
  /// (empty, longer than 65531 bytes, or containing a NUL byte).
  void insert(std::string key, NpzArray array);
  /// Adds or replaces `key`.
  void insert_or_assign(std::string key, NpzArray array);

  /// True when `key` is present.
  bool contains(std::string_view key) const;
  /// The array stored under `key`; std::out_of_range naming the key and the keys
  /// present when it is missing.
  const NpzArray& at(std::string_view key) const;
  /// The array under `key` as tapegrad::Array<T>; std::out_of_range when missing,
  /// std::invalid_argument naming both dtypes when it holds another element type.
  template <class T>
  const tapegrad::Array<T>& get(std::string_view key) const {
    const NpzArray& a = at(key);
    if (const auto* p = std::get_if<tapegrad::Array<T>>(&a)) return *p;
    throw_dtype_mismatch(key, a, dtype_for<T>());
  }

  /// Keys in order.
  std::vector<std::string> keys() const;
  /// Number of arrays.
  std::size_t size() const { return items_.size(); }
  /// True when there are no arrays.
  bool empty() const { return items_.empty(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  template <class T>
  static constexpr const char* dtype_for() {
    if constexpr (std::is_same_v<T, float>)
      return "<f4";
    else if constexpr (std::is_same_v<T, double>)
      return "<f8";
    else
      return "<i8";
  }
  [[noreturn]] static void throw_dtype_mismatch(std::string_view key, const NpzArray& a,
                                                const char* wanted);
  std::vector<value_type> items_;
};

/// Writes `dict` to `path` as an .npz archive (members "<key>.npy", stored),
/// atomically: on failure the previous file at `path` is unchanged. Throws
/// IoError when the archive would exceed 4 GiB or 65535 members (ZIP64).
void save_npz(const std::filesystem::path& path, const NpzDict& dict);

/// Reads an .npz archive written by save_npz, numpy.savez or
/// numpy.savez_compressed (stored or deflated members). Keys are the member
/// names without ".npy", in archive order. Throws IoError on any malformed,
/// truncated or unsupported content, naming the file, the member and the offset.
NpzDict load_npz(const std::filesystem::path& path);

/// Writes the archive save_npz would write into `sink` (for in-memory use).
void write_npz(ByteSink& sink, const NpzDict& dict, const char* function = "write_npz",
               const std::filesystem::path& name = "<memory>");

/// Parses archive bytes as load_npz does; `name` stands for the file in messages.
NpzDict parse_npz(std::span<const std::uint8_t> bytes, const std::filesystem::path& name,
                  const char* function = "parse_npz");

}  // namespace tapegrad::io
