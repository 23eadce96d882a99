#include <atomic>
#include <mutex>
#include <stdexcept>
#include <tapegrad/core/detail/entry.hpp>
#include <tapegrad/core/tape.hpp>

namespace tapegrad {

namespace {
thread_local bool t_grad_enabled = true;
thread_local Tape* t_current = nullptr;
std::atomic<std::uint64_t> g_next_seq{1};
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }
GradModeGuard::GradModeGuard(bool enabled) : previous_(t_grad_enabled) { t_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { t_grad_enabled = previous_; }

Saved Saved::of(std::initializer_list<std::size_t> idx, bool output) {
  Saved s{0, output};
  for (std::size_t i : idx) s.inputs |= std::uint64_t{1} << i;
  return s;
}

// ---- tape accounting ----

// The entries counted on one tape, in an intrusive list. Entries may be freed on any
// thread (a graph can be shared), hence the mutex; the registry outlives its Tape while
// entries still point at it.
struct Tape::Registry {
  std::mutex mutex;
  detail::Entry* head = nullptr;
  std::size_t count = 0;

  void link(detail::Entry* e) {
    std::lock_guard lock(mutex);
    e->next = head;
    if (head) head->prev = e;
    head = e;
    ++count;
  }
  void unlink(detail::Entry* e) {
    std::lock_guard lock(mutex);
    if (e->prev)
      e->prev->next = e->next;
    else
      head = e->next;
    if (e->next) e->next->prev = e->prev;
    e->prev = e->next = nullptr;
    --count;
  }
};

Tape::Tape() : registry_(std::make_shared<Registry>()) {}
Tape::~Tape() = default;

Tape& Tape::current() {
  if (t_current) return *t_current;
  thread_local Tape default_tape;
  return default_tape;
}

Tape::Use::Use(Tape& tape) : previous_(t_current) { t_current = &tape; }
Tape::Use::~Use() { t_current = previous_; }

std::size_t Tape::node_count() const {
  std::lock_guard lock(registry_->mutex);
  return registry_->count;
}

std::size_t Tape::bytes() const {
  std::lock_guard lock(registry_->mutex);
  std::size_t total = 0;
  for (const detail::Entry* e = registry_->head; e; e = e->next) {
    total += e->saved_bytes;
    if (auto out = e->output.lock()) {
      total += detail::storage_bytes(*out->value);
      if (out->grad) total += detail::storage_bytes(*out->grad->value);
    }
  }
  return total;
}

void Tape::clear() {
  // Collect owning handles first: releasing may free entries, which unlink themselves.
  std::vector<std::shared_ptr<detail::Node>> outputs;
  {
    std::lock_guard lock(registry_->mutex);
    for (detail::Entry* e = registry_->head; e; e = e->next)
      if (auto out = e->output.lock()) outputs.push_back(std::move(out));
  }
  for (auto& out : outputs)
    if (out->grad_fn) out->grad_fn->release();
}

// ---- entries ----

namespace detail {

namespace {
// Freeing a long chain of entries recursively (each entry's inputs free the entry
// before them) would overflow the stack after some ten thousand ops. Instead, the
// outermost release keeps a list of tensors to drop on its stack frame, and releases
// nested inside it park their inputs there; the list is emptied one tensor at a time.
// (A plain pointer: a thread_local with a destructor could be gone when a static
// tensor dies at exit.)
thread_local std::vector<Tensor>* t_pending = nullptr;
}  // namespace

void Entry::release() {
  if (registry) {
    registry->unlink(this);
    registry.reset();
  }
  released = true;
  backward = nullptr;
  std::vector<Tensor> dying;
  dying.swap(inputs);
  if (t_pending) {
    for (auto& t : dying) t_pending->push_back(std::move(t));
    return;
  }
  t_pending = &dying;
  while (!dying.empty()) {
    Tensor t = std::move(dying.back());
    dying.pop_back();
    t = Tensor();  // may free further entries, which append to `dying`
  }
  t_pending = nullptr;
}

Entry::~Entry() { release(); }

}  // namespace detail

// ---- recording ----

Tensor record(const char* op, Tensor output, std::vector<Tensor> inputs, BackwardFn backward,
              Saved saved, std::size_t saved_bytes) {
  check_defined(op, output, "output");
  if (!t_grad_enabled) return output;
  bool any = false;
  for (const auto& in : inputs) any = any || in.requires_grad();
  if (!any) return output;
  const auto& node = AutogradAccess::node(output);
  if (node->grad_fn)
    throw std::logic_error(std::string("record(") + op +
                           "): the output was already recorded by another op; every op must "
                           "return a fresh tensor");
  auto e = std::make_shared<detail::Entry>();
  e->op = op;
  e->seq = g_next_seq.fetch_add(1, std::memory_order_relaxed);
  e->input_versions.resize(inputs.size(), detail::kNotSaved);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && (i >= 64 || (saved.inputs >> i) & 1))
      e->input_versions[i] = inputs[i].version();
  e->inputs = std::move(inputs);
  e->output = node;
  if (saved.output) e->output_version = output.version();
  e->output_shape = output.shape();
  e->output_dtype = output.dtype();
  e->backward = std::move(backward);
  e->saved_bytes = saved_bytes;
  e->registry = Tape::current().registry_;
  e->registry->link(e.get());
  node->grad_fn = std::move(e);
  node->requires_grad = true;
  return output;
}

}  // namespace tapegrad
