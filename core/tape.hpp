#pragma once
// Recording ops and running them backwards.
//
// Every differentiable op computes its value and then records an entry: its name, its
// inputs, the versions of the tensors its backward formula reads, and a hand-written
// backward closure. Entries are numbered in recording order by one process-wide
// counter (the Wengert list's order): an entry's inputs were always recorded before
// it, so running entries from the highest number down is a topological order, with no
// graph search, even when parts of a graph were recorded on other threads.
//
// The graph is owned by its outputs: a tensor holds the entry that produced it, and an
// entry holds its inputs. A graph nobody can backward through any more is therefore
// freed as soon as its last tensor goes, whether or not backward ran (a forgotten
// NoGradGuard costs nothing lasting). backward() releases the entries it ran through
// (their closures and inputs) unless retain_graph; a second backward through them is
// an error naming the op, as in PyTorch. Entries never hold their own output, so
// there are no reference cycles.
//
// Backward closures are written with taped ops on Tensors. Without create_graph they
// run with recording off, so they just compute; with create_graph they record, so the
// gradients they produce are differentiable again (gradient penalties, Hessian-vector
// products). Closures may also work on raw arrays (grad_output<T>(), accumulate<T>());
// a gradient produced that way cannot be differentiated again, and trying to is an
// error naming the op.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad {

namespace detail {
class BackwardRun;
}

/// What a backward closure sees: the op's output gradient, its inputs and output, and
/// where to send the input gradients.
class GradContext {
 public:
  /// Name of the op, for error messages.
  const char* op() const { return op_; }
  /// dL/d(output), as a tensor (differentiable when create_graph is on).
  const Tensor& grad_output() const { return grad_output_; }
  /// Input i (the tensor itself, with its graph).
  const Tensor& input(std::size_t i) const { return inputs_[i]; }
  std::size_t num_inputs() const { return inputs_.size(); }
  /// The op's output (only for ops that declared it saved, see Saved).
  Tensor output() const;
  /// Whether input i wants a gradient; closures skip the work otherwise.
  bool needs_grad(std::size_t i) const { return inputs_[i].requires_grad(); }
  /// True when the gradients must be recorded (backward(create_graph=true)).
  bool create_graph() const { return create_graph_; }
  /// Sends g as (part of) dL/d(input i). g must have input i's shape and dtype (an error
  /// naming the op otherwise); an undefined g counts as zero.
  void accumulate(std::size_t i, const Tensor& g) const;

  /// Raw views for closures written on arrays.
  template <class T>
  const Array<T>& grad_output() const {
    return grad_output_.value<T>();
  }
  template <class T>
  const Array<T>& input(std::size_t i) const {
    return inputs_[i].value<T>();
  }
  template <class T>
  const Array<T>& output() const {
    return output_value().value<T>();
  }
  /// Sends a raw gradient for input i. Under create_graph the result is marked as not
  /// differentiable (differentiating it again throws, naming the op).
  template <class T>
  void accumulate(std::size_t i, Array<T>&& g) const {
    accumulate_raw(i, Tensor::from_array(std::move(g)));
  }
  template <class T, class E>
  void accumulate(std::size_t i, const E& g) const {
    accumulate<T>(i, Array<T>(g));
  }

 private:
  friend class detail::BackwardRun;
  GradContext(const char* op, const Tensor& grad_output, std::span<const Tensor> inputs,
              const detail::Entry& entry, detail::BackwardRun& run, bool create_graph)
      : op_(op),
        grad_output_(grad_output),
        inputs_(inputs),
        entry_(entry),
        run_(run),
        create_graph_(create_graph) {}
  const Tensor& output_value() const;
  void accumulate_raw(std::size_t i, const Tensor& g) const;

  const char* op_;
  const Tensor& grad_output_;
  std::span<const Tensor> inputs_;
  const detail::Entry& entry_;
  detail::BackwardRun& run_;
  bool create_graph_;
  mutable Tensor output_;  // filled on first use
};

/// A backward closure: reads ctx.grad_output() and sends gradients to the inputs.
/// It must not capture its own output (the output owns the entry holding the closure);
/// ctx.output() gives it when it was declared saved.
using BackwardFn = std::function<void(const GradContext& ctx)>;

/// Which tensors an op's backward formula reads, so that modifying them in place
/// before backward is caught (and modifying the others is allowed, as in PyTorch).
struct Saved {
  std::uint64_t inputs = ~std::uint64_t{0};  ///< bit i: input i is read
  bool output = false;                       ///< the output is read

  /// Every input (the default).
  static Saved all_inputs() { return {}; }
  /// No tensor (gradients that depend only on grad_output, e.g. add, reshape).
  static Saved none() { return {0, false}; }
  /// The listed inputs.
  static Saved of(std::initializer_list<std::size_t> idx, bool output = false);
  /// Only the output (exp, sigmoid, tanh, sqrt).
  static Saved only_output() { return {0, true}; }
};

/// Accounting of recorded entries: how many of the entries recorded while this tape
/// was current still hold a graph (not yet freed by backward, not dropped), and the
/// bytes their outputs and saved buffers hold. Each thread has a current tape;
/// Tape::Use switches it (gradcheck counts its own work apart from the user's).
class Tape {
 public:
  Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;
  /// Entries still alive stop counting here; they are not freed.
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

  /// Frees the graph of every entry recorded here (as backward does for the entries it
  /// runs through): tensors computed from them can no longer backward through them.
  void clear();

  /// Entries recorded here that still hold a graph.
  std::size_t node_count() const;
  /// Bytes held by those entries' outputs (values and gradients) and saved buffers.
  std::size_t bytes() const;

 private:
  friend struct detail::Entry;
  friend Tensor record(const char*, Tensor, std::vector<Tensor>, BackwardFn, Saved, std::size_t);
  struct Registry;
  std::shared_ptr<Registry> registry_;
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

/// RAII: sets recording on this thread on or off, restores on exit.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

/// Records an op: if grad mode is on and any input requires grad, `output` becomes a
/// non-leaf requiring grad whose entry holds `inputs` and `backward`. `saved` says
/// which tensors the closure reads (their versions are checked before it runs);
/// `saved_bytes` counts memory the closure keeps besides them, for Tape::bytes().
/// Returns `output`.
Tensor record(const char* op, Tensor output, std::vector<Tensor> inputs, BackwardFn backward,
              Saved saved = Saved::all_inputs(), std::size_t saved_bytes = 0);

/// Options of grad().
struct GradOptions {
  /// Keep the graph for another backward (default: the value of create_graph).
  std::optional<bool> retain_graph;
  /// Record the gradient computation so the results can be differentiated again.
  bool create_graph = false;
  /// Return an undefined tensor for an input the outputs do not depend on, instead of
  /// throwing.
  bool allow_unused = false;
};

/// The gradients of sum_i <outputs[i], grad_outputs[i]> with respect to `inputs`, as
/// torch.autograd.grad: .grad fields are not touched. grad_outputs may be empty when
/// every output is a one-element tensor (a seed of 1 each); an undefined entry means
/// the same for its output. Inputs may be leaves or intermediate tensors.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {},
                         const GradOptions& options = {});

/// Backpropagates from several outputs at once (torch.autograd.backward): the
/// gradients of sum_i <outputs[i], grad_outputs[i]> accumulate into the leaves' .grad.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

}  // namespace tapegrad
