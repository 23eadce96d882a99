#include <stdexcept>
#include <tapegrad/core/named_tensors.hpp>
#include <unordered_set>

namespace tapegrad {
namespace {

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string joined_prefix(std::string_view prefix) {
  std::string p(prefix);
  if (!p.empty() && p.back() != '.') p += '.';
  return p;
}

}  // namespace

void check_unique_keys(const char* function, const NamedTensors& tensors) {
  std::unordered_set<std::string_view> seen;
  for (const auto& [key, t] : tensors)
    if (!seen.insert(key).second)
      throw std::invalid_argument(std::string(function) + ": key " + in_quotes(key) +
                                  " appears more than once");
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
