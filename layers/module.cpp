#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <stdexcept>
#include <tapegrad/layers/module.hpp>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>

namespace tapegrad {
namespace {

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

std::string join_quoted(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + in_quotes(k);
  return out;
}

// PyTorch's _addindent: every line after the first gets `spaces` more indentation,
// so a nested module's block lines up under its "(name): " label.
std::string add_indent(const std::string& text, std::size_t spaces) {
  std::string out;
  const std::string pad(spaces, ' ');
  for (char c : text) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}

// Copies `src` into `dst`'s existing storage element by element, so every handle
// to `dst` (a layer's member, an optimizer's parameter list) sees the new values.
void copy_into(Tensor& dst, const Tensor& src) {
  dispatch(dst.dtype(), [&]<class T>() {
    const auto& s = src.value<T>();
    auto& d = dst.value<T>();
    std::copy(s.begin(), s.end(), d.begin());
  });
}

}  // namespace

std::string LoadReport::str() const {
  std::string out;
  if (!missing_keys.empty()) out += "missing key(s): " + join_quoted(missing_keys) + "\n";
  if (!unexpected_keys.empty()) out += "unexpected key(s): " + join_quoted(unexpected_keys) + "\n";
  for (const auto& r : skipped_reasons) out += r + "\n";
  if (!out.empty()) out.pop_back();
  return out;
}

Tensor Module::forward(const Tensor&) {
  throw std::logic_error(name() +
                         ": forward(input) is not implemented; override "
                         "Tensor forward(const Tensor&) in the module's class");
}

void Module::check_new_name(const char* function, const std::string& name) const {
  if (name.empty())
    throw std::invalid_argument(this->name() + "::" + function + ": the name must not be empty");
  if (name.find('.') != std::string::npos)
    throw std::invalid_argument(this->name() + "::" + function + ": name " + in_quotes(name) +
                                " must not contain '.' (dots separate nested names)");
  auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& e) { return e.first == name; });
  };
  if (taken(parameters_) || taken(buffers_) || taken(children_))
    throw std::invalid_argument(this->name() + "::" + function + ": name " + in_quotes(name) +
                                " is already registered in this module");
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_new_name("register_parameter", name);
  if (!tensor.defined())
    throw std::invalid_argument(this->name() + "::register_parameter: tensor " + in_quotes(name) +
                                " is undefined");
  // A non-leaf belongs to the tape and dies with the next clear; a parameter must outlive it.
  if (!tensor.is_leaf())
    throw std::invalid_argument(this->name() + "::register_parameter: tensor " + in_quotes(name) +
                                " is the result of a recorded op; parameters must be leaves "
                                "(pass tensor.detach())");
  tensor.requires_grad_(requires_grad);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor, bool keep_dtype) {
  check_new_name("register_buffer", name);
  if (!tensor.defined())
    throw std::invalid_argument(this->name() + "::register_buffer: tensor " + in_quotes(name) +
                                " is undefined");
  if (!tensor.is_leaf())
    throw std::invalid_argument(this->name() + "::register_buffer: tensor " + in_quotes(name) +
                                " is the result of a recorded op; buffers must be leaves "
                                "(pass tensor.detach())");
  buffers_.emplace_back(name, tensor);
  if (keep_dtype) keep_dtype_.push_back(tensor.id());
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name("register_module", name);
  if (!module)
    throw std::invalid_argument(this->name() + "::register_module: module " + in_quotes(name) +
                                " is null");
  // A module inside its own subtree would make every recursive walk endless.
  for (const auto& [n, m] : module->named_modules())
    if (m.get() == this)
      throw std::invalid_argument(this->name() + "::register_module: registering " +
                                  in_quotes(name) + " would make the module its own descendant");
  children_.emplace_back(name, std::move(module));
}

void Module::collect_named(NamedTensors& out, const std::string& prefix, bool params, bool buffers,
                           bool recurse) const {
  if (params)
    for (const auto& [n, t] : parameters_) out.emplace_back(prefix + n, t);
  if (buffers)
    for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  if (recurse)
    for (const auto& [n, child] : children_)
      child->collect_named(out, prefix + n + ".", params, buffers, true);
}

// A tensor shared by two modules (tied weights) is listed once, under its first
// name, so an optimizer never steps it twice; state_dict keeps every name.
static NamedTensors without_repeats(NamedTensors all) {
  std::unordered_set<const void*> seen;
  NamedTensors out;
  for (auto& e : all)
    if (seen.insert(e.second.id()).second) out.push_back(std::move(e));
  return out;
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors all;
  collect_named(all, "", true, false, recurse);
  return without_repeats(std::move(all));
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors all;
  collect_named(all, "", false, true, recurse);
  return without_repeats(std::move(all));
}

void Module::collect_modules(std::vector<NamedModule>& out, const std::string& prefix) {
  for (const auto& [n, child] : children_) {
    const std::string name = prefix.empty() ? n : prefix + "." + n;
    out.emplace_back(name, child);
    child->collect_modules(out, name);
  }
}

std::vector<Module::NamedModule> Module::named_modules() {
  std::shared_ptr<Module> self = weak_from_this().lock();
  // Not owned by a shared_ptr (a model on the stack): hand out a non-owning alias.
  if (!self) self = std::shared_ptr<Module>(std::shared_ptr<Module>(), this);
  std::vector<NamedModule> out{{"", self}};
  collect_modules(out, "");
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) t.zero_grad();
}

std::size_t Module::num_parameters(bool trainable_only) const {
  std::size_t n = 0;
  for (const auto& [name, t] : named_parameters())
    if (!trainable_only || t.requires_grad()) n += t.numel();
  return n;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect_named(out, "", true, true, true);
  return out;
}

LoadReport Module::load_state_dict(const NamedTensors& source, bool strict) {
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < source.size(); ++i)
    if (!index.emplace(source[i].first, i).second)
      throw std::invalid_argument(name() + "::load_state_dict: key " + in_quotes(source[i].first) +
                                  " appears more than once in the source");

  NamedTensors targets = state_dict();
  LoadReport report;
  std::vector<std::pair<Tensor, Tensor>> to_copy;  // (target, source)
  std::unordered_set<std::string> known;
  for (auto& [key, target] : targets) {
    known.insert(key);
    auto it = index.find(key);
    if (it == index.end()) {
      report.missing_keys.push_back(key);
      continue;
    }
    const Tensor& src = source[it->second].second;
    std::string reason;
    if (!src.defined())
      reason = "undefined tensor for " + in_quotes(key) + " in the source";
    else if (src.shape() != target.shape())
      reason = "size mismatch for " + in_quotes(key) + ": the source has shape " +
               shape_str(src.shape()) + ", the module has shape " + shape_str(target.shape());
    else if (src.dtype() != target.dtype())
      reason = "dtype mismatch for " + in_quotes(key) + ": the source has " +
               dtype_name(src.dtype()) + ", the module has " + dtype_name(target.dtype()) +
               " (convert the module with Module::to(Dtype) first)";
    if (reason.empty()) {
      to_copy.emplace_back(target, src);
    } else {
      report.skipped_keys.push_back(key);
      report.skipped_reasons.push_back(std::move(reason));
    }
  }
  for (const auto& [key, t] : source)
    if (!known.count(key)) report.unexpected_keys.push_back(key);

  // Strict loading is all or nothing: check everything, then copy.
  if (strict && !report.ok())
    throw std::invalid_argument(name() + "::load_state_dict: error(s) loading the state dict:\n" +
                                report.str());
  for (auto& [target, src] : to_copy) copy_into(target, src);
  return report;
}

Module& Module::to(Dtype dtype) {
  std::vector<const void*> keep;
  for (auto& [n, m] : named_modules())
    keep.insert(keep.end(), m->keep_dtype_.begin(), m->keep_dtype_.end());
  for (auto& item : state_dict()) {
    if (std::find(keep.begin(), keep.end(), item.second.id()) != keep.end()) continue;
    Tensor& t = item.second;           // not a structured binding: lambdas capture it below
    if (t.dtype() == dtype) continue;  // also covers a tied tensor seen a second time
    // Replace the value inside the node, not the handle, so every holder of this
    // parameter (layer members, optimizers) sees the converted tensor, as PyTorch's
    // Module::to does through set_data.
    Tensor converted = dispatch(dtype, [&]<class U>() {
      return dispatch(t.dtype(), [&]<class T>() {
        return Tensor::from_array(Array<U>(xt::cast<U>(t.cvalue<T>())));
      });
    });
    t.set_data(converted);
  }
  return *this;
}

std::string Module::name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string full = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);
  // "tapegrad::Linear" -> "Linear"; only qualifiers before any template arguments count.
  const std::size_t end = full.find('<');
  const std::size_t colon = full.rfind("::", end == std::string::npos ? std::string::npos : end);
  return colon == std::string::npos ? full : full.substr(colon + 2);
}

std::string Module::repr() const {
  std::string out = name() + "(";
  const std::string extra = extra_repr();
  if (children_.empty()) return out + extra + ")";
  if (!extra.empty()) out += "\n  " + add_indent(extra, 2);
  for (const auto& [n, child] : children_)
    out += "\n  (" + n + "): " + add_indent(child->repr(), 2);
  return out + "\n)";
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.repr(); }

void save(const Module& module, const std::filesystem::path& path) {
  save_checkpoint(path, module.state_dict());
}

LoadReport load(Module& module, const std::filesystem::path& path, bool strict) {
  return module.load_state_dict(load_checkpoint(path), strict);
}

}  // namespace tapegrad
