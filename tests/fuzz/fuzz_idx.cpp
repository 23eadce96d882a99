// libFuzzer target: the IDX reader (MNIST's format, plain or gzip) on arbitrary bytes.
// Any input must either parse into an array whose size matches its header, or be
// rejected with tapegrad::io::IoError; never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <tapegrad/core/io/atomic_file.hpp>
#include <tapegrad/layers/data/idx.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const tapegrad::data::IdxArray a =
        tapegrad::data::parse_idx(std::span<const std::uint8_t>(data, size), "fuzz.idx");
    std::size_t n = 1;
    for (std::size_t d : a.dims) n *= d;
    if (n != a.data.size()) std::abort();  // a parsed array must hold what its header says
  } catch (const tapegrad::io::IoError&) {
  }
  return 0;
}
