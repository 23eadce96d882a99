#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <tapegrad/optim/optimizer.hpp>
#include <variant>

namespace tapegrad::optim {

namespace detail {

std::string format_number(double v) {
  // Python's repr of a float (what PyTorch's messages show): the shortest digits
  // that read back as v, positional for exponents -4..15 ("0.0001", "1.5"),
  // scientific outside ("1e-08"); integral values print without ".0", as
  // libtorch's messages do ("-1").
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.5e-04"
  const std::size_t epos = sci.find('e');
  const int exponent = std::stoi(sci.substr(epos + 1));
  std::string mantissa = sci.substr(0, epos);
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char ch : mantissa)
    if (ch != '.') digits += ch;
  std::string out;
  if (exponent < -4 || exponent >= 16) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[8];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += ebuf;
  } else if (exponent < 0) {
    out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
  } else {
    const std::size_t int_len = static_cast<std::size_t>(exponent) + 1;
    if (digits.size() <= int_len) {
      out = digits + std::string(int_len - digits.size(), '0');
    } else {
      out = digits.substr(0, int_len) + "." + digits.substr(int_len);
    }
  }
  return negative ? "-" + out : out;
}

void put_scalar(NamedTensors& out, const std::string& key, double value) {
  out.emplace_back(key, Tensor::scalar(value, Dtype::Float64));
}

StateReader::StateReader(std::string owner, const NamedTensors& dict) : owner_(std::move(owner)) {
  for (const auto& [key, tensor] : dict) {
    if (!tensor.defined()) fail("key '" + key + "' holds an undefined tensor");
    if (!entries_.emplace(key, &tensor).second) fail("duplicate key '" + key + "'");
  }
}

void StateReader::fail(const std::string& what) const {
  throw std::invalid_argument(owner_ + ": " + what);
}

const Tensor& StateReader::tensor(const std::string& key, const Shape& shape, Dtype dtype) {
  auto it = entries_.find(key);
  if (it == entries_.end()) fail("missing key '" + key + "'");
  const Tensor& t = *it->second;
  if (t.shape() != shape || t.dtype() != dtype) {
    fail("key '" + key + "' has shape " + shape_str(t.shape()) + " and dtype " +
         dtype_name(t.dtype()) + ", expected shape " + shape_str(shape) + " and dtype " +
         dtype_name(dtype));
  }
  used_.insert(key);
  return t;
}

double StateReader::scalar(const std::string& key) {
  return tensor(key, Shape{}, Dtype::Float64).item();
}

bool StateReader::flag(const std::string& key) {
  double v = scalar(key);
  if (v != 0.0 && v != 1.0) fail("key '" + key + "' must be 0 or 1, got " + format_number(v));
  return v == 1.0;
}

std::int64_t StateReader::integer(const std::string& key) {
  double v = scalar(key);
  // 2^53 bounds the integers a double holds exactly.
  if (!(std::abs(v) <= 9007199254740992.0) || v != std::floor(v)) {
    fail("key '" + key + "' must be a whole number, got " + format_number(v));
  }
  return static_cast<std::int64_t>(v);
}

void StateReader::expect_all_used(const std::string& hint) const {
  for (const auto& [key, tensor] : entries_) {
    if (!used_.count(key)) fail("unexpected key '" + key + "'" + hint);
  }
}

}  // namespace detail

Optimizer::Optimizer(std::string name, std::vector<Tensor> params, double lr)
    : name_(std::move(name)), params_(std::move(params)), lr_(lr) {
  auto fail = [&](const std::string& what) { throw std::invalid_argument(name_ + ": " + what); };
  // PyTorch checks the hyper-parameters before the parameters; so do we.
  if (!(lr >= 0.0)) fail("Invalid learning rate: " + detail::format_number(lr));
  if (params_.empty()) fail("got an empty parameter list");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    const std::string which = "parameter " + std::to_string(i);
    if (!p.defined()) fail(which + " is an undefined tensor");
    if (!p.is_leaf()) {
      fail("can't optimize a non-leaf tensor (" + which + ", shape " + shape_str(p.shape()) +
           "): optimize the leaf it was computed from");
    }
    if (!p.requires_grad()) {
      fail(which + " (shape " + shape_str(p.shape()) +
           ") does not require grad; call requires_grad_() on it or leave it out");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (params_[j].id() == p.id()) {
        fail(which + " is the same tensor as parameter " + std::to_string(j) +
             " (it would be updated twice per step)");
      }
    }
  }
  state_.resize(params_.size());
}

void Optimizer::step() {
  // A gradient always has its parameter's shape and dtype: backward and set_grad are
  // the only ways to set one, and both check it.
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].grad();
    if (!g.defined()) continue;  // no gradient: skipped, state untouched (PyTorch)
    update(params_[i], g, state_[i]);
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0.0)) {
    throw std::invalid_argument(name_ + ": Invalid learning rate: " + detail::format_number(lr));
  }
  lr_ = lr;
}

double Optimizer::cycled_momentum() const {
  throw std::logic_error(name_ + ": has no momentum to cycle");
}

void Optimizer::set_cycled_momentum(double) {
  throw std::logic_error(name_ + ": has no momentum to cycle");
}

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  detail::put_scalar(out, "param_groups.lr", lr_);
  save_options(out);
  const std::vector<std::string> names = buffer_names();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const ParamState& s = state_[i];
    if (s.buffers.empty()) continue;  // never updated: no state, as in PyTorch
    const std::string prefix = "state." + std::to_string(i) + ".";
    if (has_step_state()) detail::put_scalar(out, prefix + "step", static_cast<double>(s.step));
    for (std::size_t k = 0; k < names.size(); ++k) {
      out.emplace_back(prefix + names[k], s.buffers[k].clone_detached());
    }
  }
  return out;
}

void Optimizer::load_state_dict(const NamedTensors& dict) {
  detail::StateReader in(name_ + ".load_state_dict", dict);
  const double new_lr = in.scalar("param_groups.lr");
  if (!(new_lr >= 0.0))
    in.fail("param_groups.lr: Invalid learning rate: " + detail::format_number(new_lr));

  // load_options adopts the new options at once (the buffer names depend on them);
  // keep the old ones to roll back if anything later turns out wrong.
  NamedTensors old_options;
  save_options(old_options);
  try {
    load_options(in);
    const std::vector<std::string> names = buffer_names();
    const bool with_step = has_step_state();
    std::vector<ParamState> new_state(params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const std::string prefix = "state." + std::to_string(i) + ".";
      bool present = with_step && in.contains(prefix + "step");
      for (const auto& n : names) present = present || in.contains(prefix + n);
      if (!present) continue;  // this parameter had no state yet
      ParamState& s = new_state[i];
      if (with_step) {
        s.step = in.integer(prefix + "step");
        if (s.step < 1)
          in.fail("key '" + prefix + "step' must be >= 1, got " + std::to_string(s.step));
      }
      for (const auto& n : names) {
        const Tensor& t = in.tensor(prefix + n, params_[i].shape(), params_[i].dtype());
        s.buffers.push_back(
            t.clone_detached());  // a copy: updates must not write into the caller's dict
      }
    }
    std::string hint = " (" + name_ + " has " + std::to_string(params_.size()) +
                       " parameters; its per-parameter state is {";
    if (with_step) hint += names.empty() ? "step" : "step, ";
    for (std::size_t k = 0; k < names.size(); ++k) hint += (k ? ", " : "") + names[k];
    hint += "} under these options)";
    in.expect_all_used(hint);
    state_ = std::move(new_state);
    lr_ = new_lr;
  } catch (...) {
    detail::StateReader restore(name_, old_options);
    load_options(restore);
    throw;
  }
}

}  // namespace tapegrad::optim
