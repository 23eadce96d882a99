#pragma once
// Module: the base of every layer and of user models, as torch.nn.Module. A module
// owns named parameters (leaf tensors that require grad), named buffers (state
// that is saved but not trained) and named child modules; everything else —
// dotted names, state_dict, train/eval, printing — follows from that registry.
//
//   struct Net : tapegrad::Module {
//     Net(tapegrad::Generator& gen)
//         : fc1(register_module("fc1", std::make_shared<tapegrad::Linear>(4, 8, gen))),
//           fc2(register_module("fc2", std::make_shared<tapegrad::Linear>(8, 1, gen))) {}
//     tapegrad::Tensor forward(const tapegrad::Tensor& x) override {
//       return (*fc2)(tapegrad::relu((*fc1)(x)));
//     }
//     std::shared_ptr<tapegrad::Linear> fc1, fc2;
//   };
#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <tapegrad/core/checkpoint.hpp>
#include <tapegrad/core/tensor.hpp>
#include <utility>
#include <vector>

namespace tapegrad {

/// What a non-strict Module::load_state_dict did not load. Empty lists mean the
/// source matched the module exactly.
struct LoadReport {
  /// Keys the module has and the source lacks (left unchanged).
  std::vector<std::string> missing_keys;
  /// Keys in the source that the module does not have (ignored).
  std::vector<std::string> unexpected_keys;
  /// Keys in both whose shape or dtype differ (left unchanged).
  std::vector<std::string> skipped_keys;
  /// Why each skipped key was skipped, parallel to skipped_keys.
  std::vector<std::string> skipped_reasons;

  /// True when every key matched and was loaded.
  bool ok() const {
    return missing_keys.empty() && unexpected_keys.empty() && skipped_keys.empty();
  }
  /// One line per problem (empty when ok()), PyTorch's wording.
  std::string str() const;
};

/// Base class of layers and models. Not copyable: parameters are handles, so a
/// copy would silently share them; hold modules by std::shared_ptr instead.
class Module : public std::enable_shared_from_this<Module> {
 public:
  /// A child module together with its name.
  using NamedModule = std::pair<std::string, std::shared_ptr<Module>>;

  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// The computation. The base version throws std::logic_error naming the module
  /// type: containers without a forward and losses (which take two inputs) land here.
  virtual Tensor forward(const Tensor& input);
  /// Calls forward.
  Tensor operator()(const Tensor& input) { return forward(input); }

  /// Registers `tensor` as parameter `name` (made to require grad unless
  /// requires_grad is false) and returns it. The name must be non-empty, contain no
  /// '.', and be new in this module; the tensor must be a defined leaf.
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  /// Registers saved, untrained state (e.g. running statistics); same rules.
  /// With keep_dtype, Module::to(Dtype) leaves the buffer's dtype alone: for counters
  /// held in float64 so that they stay exact (PyTorch keeps its int64 buffers, such as
  /// BatchNorm's num_batches_tracked, through to(dtype) likewise).
  Tensor register_buffer(const std::string& name, Tensor tensor, bool keep_dtype = false);
  /// Registers a child module and returns it with its own type, so a member can be
  /// initialised in one step: `fc = register_module("fc", std::make_shared<Linear>(...))`.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  /// Parameters with dotted names ("encoder.0.weight"): this module's own in
  /// registration order, then each child's (recursively unless recurse is false),
  /// children in registration order — the order PyTorch uses.
  NamedTensors named_parameters(bool recurse = true) const;
  /// The parameter tensors in named_parameters() order (what an optimizer takes).
  std::vector<Tensor> parameters(bool recurse = true) const;
  /// Buffers with dotted names, ordered like named_parameters().
  NamedTensors named_buffers(bool recurse = true) const;
  /// Direct children in registration order.
  const std::vector<NamedModule>& named_children() const { return children_; }
  /// This module (named "") and all descendants, depth first, with dotted names.
  /// When this module is not owned by a shared_ptr, its own entry is non-owning.
  std::vector<NamedModule> named_modules();

  /// Sets training mode here and in every descendant (affects layers such as dropout).
  virtual void train(bool on = true);
  /// train(false).
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Drops every parameter's gradient (PyTorch's set_to_none=True), recursively.
  void zero_grad();
  /// Total number of parameter elements; only those requiring grad if trainable_only.
  std::size_t num_parameters(bool trainable_only = false) const;

  /// Parameters then buffers of each module, with dotted names (named_parameters'
  /// order per module, so "0.weight", "0.bias", "2.weight", ...). The tensors share
  /// storage with the module (as in PyTorch): clone them for a snapshot.
  NamedTensors state_dict() const;
  /// Copies `source` into the module's parameters and buffers, in place (handles
  /// held elsewhere, e.g. by an optimizer, see the new values). With strict, any
  /// missing or unexpected key, shape or dtype mismatch throws std::invalid_argument
  /// listing every problem — naming the key and both shapes — and nothing is
  /// changed. Without strict, matching entries are loaded and the rest reported.
  /// A repeated key in `source` always throws.
  LoadReport load_state_dict(const NamedTensors& source, bool strict = true);

  /// Converts every parameter and buffer (but those registered with keep_dtype) to
  /// `dtype` in place (for float64 gradchecks
  /// and parity tests). Gradients are dropped. Returns *this.
  Module& to(Dtype dtype);

  /// Type name shown by repr(): the class name without namespaces by default.
  virtual std::string name() const;
  /// The options shown in parentheses by repr(), e.g. "in_features=4, out_features=2,
  /// bias=true". Empty by default.
  virtual std::string extra_repr() const { return {}; }
  /// PyTorch-style printout: "Name(extra)" for a leaf, or one "(child): ..." line per
  /// child, indented by two spaces per level, for a container.
  std::string repr() const;

 protected:
  /// Registers a child without the typed return (used by containers).
  void add_child(const std::string& name, std::shared_ptr<Module> module);

 private:
  void check_new_name(const char* function, const std::string& name) const;
  void collect_named(NamedTensors& out, const std::string& prefix, bool params, bool buffers,
                     bool recurse) const;
  void collect_modules(std::vector<NamedModule>& out, const std::string& prefix);

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<const void*> keep_dtype_;  // ids of buffers that to(Dtype) leaves alone
  std::vector<NamedModule> children_;
  bool training_ = true;
};

/// Writes module.repr().
std::ostream& operator<<(std::ostream& os, const Module& module);

/// Saves module.state_dict() as a checkpoint (see save_checkpoint).
void save(const Module& module, const std::filesystem::path& path);
/// Loads a checkpoint into the module (see Module::load_state_dict).
LoadReport load(Module& module, const std::filesystem::path& path, bool strict = true);

}  // namespace tapegrad
