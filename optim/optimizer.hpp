#pragma once
// Optimizer: the base of SGD, Adam and AdamW. It owns the list of parameters,
// the learning rate and the per-parameter state, and turns that state into a flat
// list of named tensors (state_dict) so that a checkpoint can resume training
// bit for bit. Updates happen outside autograd: they write into the parameters'
// values in place and are never recorded on a tape.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tapegrad/core/named_tensors.hpp>
#include <tapegrad/core/tensor.hpp>
#include <utility>
#include <vector>

namespace tapegrad::optim {

// An optimizer's state is a NamedTensors list in a fixed order, with keys like
// PyTorch's state_dict flattened: "param_groups.lr", "state.0.exp_avg", "state.0.step".

namespace detail {

/// Strict reader of a NamedTensors: every lookup checks shape and dtype and marks
/// the key as used, so that leftovers can be reported as unexpected keys.
class StateReader {
 public:
  /// `owner` prefixes every error message (e.g. "Adam.load_state_dict").
  StateReader(std::string owner, const NamedTensors& dict);

  bool contains(const std::string& key) const { return entries_.count(key) != 0; }
  /// The tensor under `key`, which must exist with this shape and dtype.
  const Tensor& tensor(const std::string& key, const Shape& shape, Dtype dtype);
  /// A 0-d float64 value.
  double scalar(const std::string& key);
  /// A 0-d float64 value that must be 0 or 1.
  bool flag(const std::string& key);
  /// A 0-d float64 value that must be a whole number.
  std::int64_t integer(const std::string& key);
  /// Throws naming the first key never looked up; `hint` is appended to the message.
  void expect_all_used(const std::string& hint = "") const;
  /// Throws "<owner>: <what>".
  [[noreturn]] void fail(const std::string& what) const;

 private:
  std::string owner_;
  std::map<std::string, const Tensor*> entries_;
  std::set<std::string> used_;
};

/// Appends a 0-d float64 tensor (hyper-parameters and counters are stored this way
/// so one checkpoint format holds everything).
void put_scalar(NamedTensors& out, const std::string& key, double value);

/// Python's repr of `v` ("-1", "1.5", "0.0001", "1e-08"), for messages.
std::string format_number(double v);

/// Internal: calls f.template operator()<B...>() with each runtime flag turned into a
/// compile-time bool, so update loops are instantiated without branches inside
/// (a branch-free loop body is what lets the compiler vectorize it).
template <bool... Known, class F>
void with_flags(F&& f) {
  f.template operator()<Known...>();
}
template <bool... Known, class F, class... Rest>
void with_flags(F&& f, bool next, Rest... rest) {
  if (next) {
    with_flags<Known..., true>(f, rest...);
  } else {
    with_flags<Known..., false>(f, rest...);
  }
}

}  // namespace detail

/// Base of the optimizers: one parameter group holding leaf tensors that require grad.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Schedulers and user code hold references to an optimizer, and the state
  // refers to parameters by position: copying or moving would be a trap.
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// Updates, in place, every parameter whose gradient is defined; parameters
  /// without a gradient are skipped and their state is left untouched (PyTorch).
  void step();
  /// Forgets every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  /// Current learning rate.
  double lr() const { return lr_; }
  /// Sets the learning rate (schedulers call this); must be >= 0.
  void set_lr(double lr);

  /// The optimized parameters, in the order given at construction (state keys use these indices).
  const std::vector<Tensor>& params() const { return params_; }
  /// Whether the optimizer has a momentum a scheduler can cycle (PyTorch: "momentum"
  /// or "betas" among its defaults): SGD's and RMSprop's momentum, Adam's beta1.
  virtual bool has_cycled_momentum() const { return false; }
  /// That momentum's current value (throws std::logic_error without one).
  virtual double cycled_momentum() const;
  /// Sets it (OneCycleLR does, each step); validated as the option would be.
  virtual void set_cycled_momentum(double value);

  /// "SGD", "Adam", "AdamW": prefixes every error message.
  const std::string& name() const { return name_; }

  /// A snapshot (deep copy) of the hyper-parameters ("param_groups.*", 0-d float64,
  /// booleans as 0/1) and the per-parameter state ("state.<i>.<buffer>" with the
  /// parameter's shape and dtype, "state.<i>.step" as 0-d float64). A parameter that
  /// never received a gradient has no state keys. Copies, so that later steps do not
  /// change a checkpoint taken earlier.
  NamedTensors state_dict() const;

  /// Restores hyper-parameters and state from `dict` (copied, not aliased). Strict:
  /// a missing or unexpected key, or a shape/dtype mismatch, throws
  /// std::invalid_argument naming the key and both shapes, and leaves the optimizer
  /// unchanged. The parameters' values are not part of the dict: load them separately.
  void load_state_dict(const NamedTensors& dict);

 protected:
  /// Rejects (std::invalid_argument naming `name`) an empty list, undefined tensors,
  /// non-leaves, tensors that do not require grad, and a tensor listed twice (it
  /// would be updated twice per step).
  Optimizer(std::string name, std::vector<Tensor> params, double lr);

  /// What an optimizer remembers about one parameter between steps.
  struct ParamState {
    /// Steps taken with this parameter (used by Adam's bias corrections).
    std::int64_t step = 0;
    /// Buffers named by buffer_names(), each of the parameter's shape and dtype;
    /// empty until the parameter's first update.
    std::vector<Tensor> buffers;
  };

  /// Updates `param` in place, outside autograd (a modification: it bumps the
  /// parameter's version), from its gradient `grad` (same shape and dtype, checked by
  /// step()).
  virtual void update(const Tensor& param, const Tensor& grad, ParamState& state) = 0;
  /// Names of the per-parameter buffers under the current options.
  virtual std::vector<std::string> buffer_names() const = 0;
  /// Whether ParamState::step is part of the state (saved as "state.<i>.step").
  virtual bool has_step_state() const { return false; }
  /// Appends the hyper-parameters other than lr as "param_groups.<name>" entries.
  virtual void save_options(NamedTensors& out) const = 0;
  /// Reads and validates the entries written by save_options, then adopts them.
  virtual void load_options(detail::StateReader& in) = 0;

 private:
  std::string name_;
  std::vector<Tensor> params_;
  std::vector<ParamState> state_;
  double lr_;
};

}  // namespace tapegrad::optim
