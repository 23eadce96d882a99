#pragma once
// Checkpoints: named tensors in a NumPy .npz file. A model's state_dict() and an
// optimizer's state_dict() are both lists of named tensors; a training program
// prefixes each ("model.", "optim."), merges them into one file, and splits them
// again on load. The files open in NumPy (`numpy.load(path)["model.0.weight"]`)
// and are written atomically, so a crash mid-save keeps the previous checkpoint.
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <tapegrad/core/named_tensors.hpp>
#include <utility>
#include <vector>

namespace tapegrad {

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
/// truncated or corrupt file. Temporary files that writers killed mid-save left
/// beside it are removed (io::remove_stale_temporaries).
NamedTensors load_checkpoint(const std::filesystem::path& path);

/// Parses the bytes of a checkpoint as load_checkpoint does (for checkpoints held in
/// memory); `name` stands for the file in messages.
NamedTensors parse_checkpoint(std::span<const std::uint8_t> bytes,
                              const std::filesystem::path& name = "<memory>");

}  // namespace tapegrad
