// libFuzzer target: the npz (zip of npy) reader on arbitrary bytes. Any input must parse
// or be rejected with tapegrad::io::IoError; what parses must write back and re-read to
// the same arrays.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <tapegrad/core/io/npz.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tapegrad::io::NpzDict dict;
  try {
    dict = tapegrad::io::parse_npz(std::span<const std::uint8_t>(data, size), "fuzz.npz");
  } catch (const tapegrad::io::IoError&) {
    return 0;
  }
  tapegrad::io::MemorySink sink;
  tapegrad::io::write_npz(sink, dict);
  const tapegrad::io::NpzDict again = tapegrad::io::parse_npz(sink.bytes(), "again.npz");
  if (again.keys() != dict.keys()) std::abort();
  for (const auto& [key, a] : dict)
    if (tapegrad::io::npz_shape(a) != tapegrad::io::npz_shape(again.at(key))) std::abort();
  return 0;
}
