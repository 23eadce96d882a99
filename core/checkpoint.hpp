#pragma once
// Checkpoints: named tensors in a NumPy .npz file. A model's state_dict() and an
// optimizer's state_dict() are both lists of named tensors; a training program
// prefixes each ("model.", "optim."), merges them into one file, and splits them
// again on load. The files open in NumPy (`numpy.load(path)["model.0.weight"]`)
// and are written atomically, so a crash mid-save keeps the previous checkpoint.
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// Tensors under string keys, in a meaningful order (registration order for a
/// module, parameter order for an optimizer). Same type as the optimizers'
/// state_dict() and Module::state_dict().
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// Writes `tensors` to `path` as an .npz archive, one "<key>.npy" member per tensor
/// (float32 or float64, shape kept, 0-d allowed). The write is atomic: on any
/// failure the previous file at `path` is unchanged and the error propagates.
/// Throws std::invalid_argument before writing anything if a key is empty or
/// repeated or a tensor is undefined; tapegrad::io::IoError when the write fails.
void save_checkpoint(const std::filesystem::path& path, const NamedTensors& tensors);

/// Reads an .npz archive (from save_checkpoint or numpy.savez) into named tensors,
/// in the file's order. float32/float64 arrays keep their dtype; integer arrays
/// (NumPy's default for counters) become float64. The tensors are fresh leaves that
/// do not require grad. Throws tapegrad::io::IoError naming the file on a missing,
/// truncated or corrupt file.
NamedTensors load_checkpoint(const std::filesystem::path& path);

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

/// The tensor stored under `key`; std::out_of_range naming the key otherwise.
const Tensor& lookup(const NamedTensors& tensors, std::string_view key);

}  // namespace tapegrad
