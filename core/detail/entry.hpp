#pragma once
// Internal: the graph entry of a recorded op (its grad_fn). Only core's autograd code
// includes this header.
#include <cstdint>
#include <memory>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad {

/// Internal: the accessors of the autograd code to Tensor's node.
struct AutogradAccess {
  static const std::shared_ptr<detail::Node>& node(const Tensor& t) { return t.node_; }
  static Tensor wrap(std::shared_ptr<detail::Node> n) { return Tensor(std::move(n)); }
};

namespace detail {

/// Marks a tensor whose version a backward formula does not depend on.
inline constexpr std::uint64_t kNotSaved = ~std::uint64_t{0};

/// The grad_fn of a recorded op. Owned by its output node; owns its inputs.
struct Entry {
  const char* op = "";
  std::uint64_t seq = 0;                      // recording order, process-wide
  std::vector<Tensor> inputs;                 // cleared when the graph is freed
  std::vector<std::uint64_t> input_versions;  // kNotSaved where the formula ignores it
  std::weak_ptr<Node> output;                 // never owning: the output owns this entry
  std::uint64_t output_version = kNotSaved;
  Shape output_shape;
  Dtype output_dtype = Dtype::Float32;
  BackwardFn backward;
  std::size_t saved_bytes = 0;
  bool released = false;

  // Tape accounting: the registry this entry counts in, and its place in its list.
  std::shared_ptr<Tape::Registry> registry;
  Entry* prev = nullptr;
  Entry* next = nullptr;

  Entry() = default;
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;
  ~Entry();

  /// Drops the closure and the inputs (freeing what only this graph held) and stops
  /// counting on the tape. Idempotent.
  void release();
};

}  // namespace detail
}  // namespace tapegrad
