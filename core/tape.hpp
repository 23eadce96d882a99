#pragma once
// The tape: a Wengert list of recorded ops. Each entry owns its output node and
// holds its input nodes plus a hand-written backward closure. Recording order is
// a topological order, so backward simply walks the entries in reverse.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// What a backward closure sees: the op's output (with its gradient) and inputs.
class GradContext {
 public:
  GradContext(const char* op, const Tensor& output, std::span<const Tensor> inputs)
      : op_(op), output_(output), inputs_(inputs) {}

  /// Name of the op, for error messages.
  const char* op() const { return op_; }
  /// dL/d(output).
  template <class T>
  const xt::xarray<T>& grad_output() const;
  /// The output's value (useful for exp, sigmoid, tanh).
  template <class T>
  const xt::xarray<T>& output() const {
    return output_.value<T>();
  }
  /// Value of input i.
  template <class T>
  const xt::xarray<T>& input(std::size_t i) const {
    return inputs_[i].value<T>();
  }
  const Tensor& input_tensor(std::size_t i) const { return inputs_[i]; }
  std::size_t num_inputs() const { return inputs_.size(); }
  /// Whether input i wants a gradient; closures skip the work otherwise.
  bool needs_grad(std::size_t i) const { return inputs_[i].requires_grad(); }
  /// Adds g into input i's gradient; the shape must equal the input's shape
  /// (an error naming the op otherwise).
  template <class T>
  void accumulate(std::size_t i, xt::xarray<T>&& g) const;
  template <class T, class E>
  void accumulate(std::size_t i, const E& g) const {
    accumulate<T>(i, xt::xarray<T>(g));
  }

 private:
  const char* op_;
  const Tensor& output_;
  std::span<const Tensor> inputs_;
};

/// A backward closure: reads ctx.grad_output() and accumulates into the inputs.
/// It must not capture an owning handle to its own output (the tape owns that).
using BackwardFn = std::function<void(const GradContext& ctx)>;

/// Wengert list owning the graph of the ops recorded on it.
class Tape {
 public:
  Tape() = default;
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;
  ~Tape();

  /// The calling thread's current tape (a default one per thread).
  static Tape& current();

  /// Makes `tape` the current tape of this thread for the guard's lifetime.
  class Use {
   public:
    explicit Use(Tape& tape);
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    Tape* previous_;
  };

  /// Records an op: if grad mode is on and any input requires grad, the output
  /// becomes a non-leaf requiring grad and an entry is appended. `saved_bytes`
  /// counts memory the closure keeps (e.g. im2col buffers) in bytes().
  /// Returns `output`.
  Tensor record(const char* op, Tensor output, std::vector<Tensor> inputs, BackwardFn backward,
                std::size_t saved_bytes = 0);

  /// Runs backward from `root` seeded with `seed` (see Tensor::backward).
  void backward(const Tensor& root, const Tensor& seed, bool retain_graph);

  /// Drops every entry, freeing all intermediates; their handles can no longer backward.
  void clear();

  /// Number of entries (= nodes the tape owns).
  std::size_t node_count() const { return entries_.size(); }
  /// Bytes held by the tape's nodes (values and gradients) plus saved buffers.
  std::size_t bytes() const;

 private:
  struct Entry {
    const char* op;
    Tensor output;
    std::vector<Tensor> inputs;
    BackwardFn backward;
    std::size_t saved_bytes;
  };
  std::vector<Entry> entries_;
  std::uint64_t generation_ = 1;
};

/// Whether ops are recorded on this thread.
bool grad_enabled();

/// RAII: stops recording on this thread (for evaluation), restores on exit.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Records on the current tape (see Tape::record).
inline Tensor record(const char* op, Tensor output, std::vector<Tensor> inputs,
                     BackwardFn backward, std::size_t saved_bytes = 0) {
  return Tape::current().record(op, std::move(output), std::move(inputs), std::move(backward),
                                saved_bytes);
}

/// Adds `g` into `t`'s gradient, allocating it on first use; shapes must match.
template <class T>
void accumulate_grad(const char* op, const Tensor& t, xt::xarray<T>&& g);

template <class T>
const xt::xarray<T>& GradContext::grad_output() const {
  return std::get<xt::xarray<T>>(*output_.node()->grad);
}
template <class T>
void GradContext::accumulate(std::size_t i, xt::xarray<T>&& g) const {
  accumulate_grad<T>(op_, inputs_[i], std::move(g));
}

}  // namespace tapegrad
