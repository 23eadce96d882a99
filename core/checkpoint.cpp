#include <stdexcept>
#include <tapegrad/core/checkpoint.hpp>
#include <tapegrad/core/io/npz.hpp>
#include <unordered_set>

namespace tapegrad {
namespace {

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Keys must be unique: a repeated key would silently shadow a tensor on load.
void check_unique_keys(const char* function, const NamedTensors& tensors) {
  std::unordered_set<std::string_view> seen;
  for (const auto& [key, t] : tensors)
    if (!seen.insert(key).second)
      throw std::invalid_argument(std::string(function) + ": key " + in_quotes(key) +
                                  " appears more than once");
}

std::string joined_prefix(std::string_view prefix) {
  std::string p(prefix);
  if (!p.empty() && p.back() != '.') p += '.';
  return p;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const NamedTensors& tensors) {
  // Everything is validated and converted before the file is touched, so a bad
  // argument never costs the user their previous checkpoint.
  check_unique_keys("save_checkpoint", tensors);
  io::NpzDict dict;
  for (const auto& [key, t] : tensors) {
    if (key.empty())
      throw std::invalid_argument("save_checkpoint: empty key in the tensors to save to " +
                                  path.string());
    if (!t.defined())
      throw std::invalid_argument("save_checkpoint: tensor " + in_quotes(key) +
                                  " is undefined (writing " + path.string() + ")");
    dispatch(t.dtype(),
             [&]<class T>() { dict.insert(key, io::NpzArray(xt::xarray<T>(t.value<T>()))); });
  }
  io::save_npz(path, dict);
}

NamedTensors load_checkpoint(const std::filesystem::path& path) {
  const io::NpzDict dict = io::load_npz(path);
  NamedTensors out;
  out.reserve(dict.size());
  for (const auto& [key, array] : dict) {
    Tensor t = std::visit(
        [](const auto& a) -> Tensor {
          using T = typename std::decay_t<decltype(a)>::value_type;
          if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
            return Tensor::from(a);
          else  // integers (counters saved from NumPy): exact in float64 up to 2^53
            return Tensor::from(xt::xarray<double>(xt::cast<double>(a)));
        },
        array);
    out.emplace_back(key, std::move(t));
  }
  return out;
}

NamedTensors add_prefix(std::string_view prefix, const NamedTensors& tensors) {
  const std::string p = joined_prefix(prefix);
  NamedTensors out;
  out.reserve(tensors.size());
  for (const auto& [key, t] : tensors) out.emplace_back(p + key, t);
  return out;
}

NamedTensors strip_prefix(std::string_view prefix, const NamedTensors& tensors) {
  const std::string p = joined_prefix(prefix);
  NamedTensors out;
  for (const auto& [key, t] : tensors)
    if (key.size() > p.size() && key.compare(0, p.size(), p) == 0)
      out.emplace_back(key.substr(p.size()), t);
  return out;
}

NamedTensors merge(std::initializer_list<NamedTensors> parts) {
  NamedTensors out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  check_unique_keys("merge", out);
  return out;
}

const Tensor& lookup(const NamedTensors& tensors, std::string_view key) {
  for (const auto& [k, t] : tensors)
    if (k == key) return t;
  std::string keys;
  for (const auto& [k, t] : tensors) keys += (keys.empty() ? "" : ", ") + k;
  throw std::out_of_range("lookup: no tensor named " + in_quotes(key) +
                          " (keys: " + (keys.empty() ? std::string("none") : keys) + ")");
}

}  // namespace tapegrad
