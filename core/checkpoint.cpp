#include <stdexcept>
#include <tapegrad/core/checkpoint.hpp>
#include <tapegrad/core/io/npz.hpp>

namespace tapegrad {
namespace {
std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }
}  // namespace

void save_checkpoint(const std::filesystem::path& path, const NamedTensors& tensors) {
  // Everything is validated and converted before the file is touched, so a bad
  // argument never costs the user their previous checkpoint.
  check_unique_keys("save_checkpoint", tensors);
  io::NpzDict dict;
  for (const auto& item : tensors) {
    // Named, not a structured binding: clang 14 cannot capture bindings in lambdas.
    const std::string& key = item.first;
    const Tensor& t = item.second;
    if (key.empty())
      throw std::invalid_argument("save_checkpoint: empty key in the tensors to save to " +
                                  path.string());
    if (!t.defined())
      throw std::invalid_argument("save_checkpoint: tensor " + in_quotes(key) +
                                  " is undefined (writing " + path.string() + ")");
    dispatch(t.dtype(),
             [&]<class T>() { dict.insert(key, io::NpzArray(tapegrad::Array<T>(t.value<T>()))); });
  }
  io::save_npz(path, dict);
}

NamedTensors load_checkpoint(const std::filesystem::path& path) {
  const auto bytes = io::read_file_bytes(path, "load_checkpoint");
  NamedTensors out = parse_checkpoint(bytes, path);
  io::remove_stale_temporaries(path);  // what a writer killed mid-save left beside it
  return out;
}

NamedTensors parse_checkpoint(std::span<const std::uint8_t> bytes,
                              const std::filesystem::path& name) {
  const io::NpzDict dict = io::parse_npz(bytes, name, "load_checkpoint");
  NamedTensors out;
  out.reserve(dict.size());
  for (const auto& [key, array] : dict) {
    Tensor t = std::visit(
        [](const auto& a) -> Tensor {
          using T = typename std::decay_t<decltype(a)>::value_type;
          if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
            return Tensor::from(a);
          else  // integers (counters saved from NumPy): exact in float64 up to 2^53
            return Tensor::from(tapegrad::Array<double>(xt::cast<double>(a)));
        },
        array);
    out.emplace_back(key, std::move(t));
  }
  return out;
}

}  // namespace tapegrad
