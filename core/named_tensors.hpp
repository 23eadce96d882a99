#pragma once
// Lists of named tensors: what Module::state_dict() and Optimizer::state_dict() return
// and what a checkpoint file holds, with the helpers that combine them.
#include <initializer_list>
#include <string>
#include <string_view>
#include <tapegrad/core/tensor.hpp>
#include <utility>
#include <vector>

namespace tapegrad {

/// Tensors under string keys, in a meaningful order (registration order for a
/// module, parameter order for an optimizer). Same type as the optimizers'
/// state_dict() and Module::state_dict().
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// Copies `tensors` with every key prefixed by `prefix` and a dot ("model" turns
/// "0.weight" into "model.0.weight"). An empty prefix leaves keys as they are.
NamedTensors add_prefix(std::string_view prefix, const NamedTensors& tensors);

/// The entries whose key starts with `prefix` and a dot, with that removed
/// ("model.0.weight" -> "0.weight" for prefix "model"); other entries are dropped.
NamedTensors strip_prefix(std::string_view prefix, const NamedTensors& tensors);

/// Concatenates lists in order; throws std::invalid_argument naming a repeated key.
/// With add_prefix that makes a whole training state one line:
///   save_checkpoint(path, merge({add_prefix("model", model.state_dict()),
///                                add_prefix("optim", adam.state_dict())}));
NamedTensors merge(std::initializer_list<NamedTensors> parts);

/// Throws std::invalid_argument naming `function` and the key when a key repeats (a
/// repeated key would silently shadow a tensor on load).
void check_unique_keys(const char* function, const NamedTensors& tensors);

/// The tensor stored under `key`; std::out_of_range naming the key otherwise.
const Tensor& lookup(const NamedTensors& tensors, std::string_view key);

}  // namespace tapegrad
