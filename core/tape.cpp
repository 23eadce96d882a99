#include <tapegrad/core/tape.hpp>

#include <stdexcept>

namespace tapegrad {
namespace {
thread_local bool t_grad_enabled = true;
thread_local Tape* t_current = nullptr;
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

Tape& Tape::current() {
  if (t_current) return *t_current;
  thread_local Tape default_tape;
  return default_tape;
}

Tape::Use::Use(Tape& tape) : previous_(t_current) { t_current = &tape; }
Tape::Use::~Use() { t_current = previous_; }

Tape::~Tape() { clear(); }

Tensor Tape::record(const char* op, Tensor output, std::vector<Tensor> inputs,
                    BackwardFn backward, std::size_t saved_bytes) {
  if (!t_grad_enabled) return output;
  bool any = false;
  for (const auto& in : inputs) any = any || in.requires_grad();
  if (!any) return output;
  detail::Node* n = output.node();
  n->requires_grad = true;
  n->is_leaf = false;
  n->tape = this;
  n->generation = generation_;
  n->entry = entries_.size();
  entries_.push_back(Entry{op, std::move(output), std::move(inputs), std::move(backward), saved_bytes});
  return entries_.back().output;
}

void Tape::backward(const Tensor& root, const Tensor& seed, bool retain_graph) {
  detail::Node* r = root.node();
  if (r->is_leaf) {
    // A leaf is its own graph: its gradient is the seed.
    dispatch(seed.dtype(), [&]<class T>() {
      accumulate_grad<T>("backward", root, xt::xarray<T>(seed.value<T>()));
    });
    return;
  }
  if (r->tape != this || r->generation != generation_ || r->entry >= entries_.size())
    throw std::invalid_argument(
        "backward: trying to backward through the graph a second time: the tape that recorded "
        "this tensor was cleared (by an earlier backward() or clear()); use "
        "backward(retain_graph=true) to keep it");
  if (!r->retain_grad && seed.dtype() == root.dtype() && seed.shape() == root.shape()) {
    // The root's gradient is the seed alone (no later entry feeds it) and is dropped
    // right after its closure reads it, so it can share the seed's storage instead of
    // copying it (a 6 MB copy for a 56×56×64×8 activation).
    r->grad = seed.node()->value;
  } else {
    dispatch(seed.dtype(), [&]<class T>() {
      accumulate_grad<T>("backward", root, xt::xarray<T>(seed.value<T>()));
    });
  }
  for (std::size_t i = r->entry + 1; i-- > 0;) {
    Entry& e = entries_[i];
    detail::Node* out = e.output.node();
    if (!out->grad) continue;  // not an ancestor of the root, or nothing flowed back
    GradContext ctx(e.op, e.output, e.inputs);
    e.backward(ctx);
    // An intermediate's gradient is dead once its closure ran; freeing it now keeps
    // the peak memory of backward near that of forward.
    if (!out->retain_grad) out->grad.reset();
  }
  if (!retain_graph) clear();
}

void Tape::clear() {
  for (auto& e : entries_) e.output.node()->tape = nullptr;
  entries_.clear();
  ++generation_;
}

std::size_t Tape::bytes() const {
  std::size_t total = 0;
  for (const auto& e : entries_) {
    const detail::Node* n = e.output.node();
    total += detail::storage_bytes(*n->value) + e.saved_bytes;
    if (n->grad) total += detail::storage_bytes(*n->grad);
  }
  return total;
}

template <class T>
void accumulate_grad(const char* op, const Tensor& t, xt::xarray<T>&& g) {
  detail::Node* n = t.node();
  if (t.dtype() != dtype_of<T>())
    throw std::invalid_argument(std::string(op) + ": gradient has dtype " +
                                dtype_name(dtype_of<T>()) + " but the input has dtype " +
                                dtype_name(t.dtype()));
  const Shape ts = t.shape();
  if (g.shape().size() != ts.size() || !std::equal(ts.begin(), ts.end(), g.shape().begin()))
    throw std::invalid_argument(std::string(op) + ": gradient of shape " +
                                shape_str(Shape(g.shape().begin(), g.shape().end())) +
                                " does not match the input's shape " + shape_str(ts));
  if (!n->grad) {
    n->grad = std::make_shared<detail::Storage>(std::move(g));
  } else {
    auto& acc = std::get<xt::xarray<T>>(*n->grad);
    T* a = acc.data();
    const T* b = g.data();
    const std::size_t size = acc.size();
    for (std::size_t k = 0; k < size; ++k) a[k] += b[k];
  }
}
template void accumulate_grad<float>(const char*, const Tensor&, xt::xarray<float>&&);
template void accumulate_grad<double>(const char*, const Tensor&, xt::xarray<double>&&);

}  // namespace tapegrad
