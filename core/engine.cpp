// The backward pass: runs the entries of a graph from the highest recording number
// down, each once, after every entry that feeds it has sent its gradient.
#include <algorithm>
#include <queue>
#include <stdexcept>
#include <tapegrad/core/detail/entry.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/tape.hpp>
#include <unordered_map>
#include <unordered_set>

namespace tapegrad {
namespace detail {

namespace {

std::string describe(const Tensor& t) {
  return std::string("[") + dtype_name(t.dtype()) + " tensor of shape " + shape_str(t.shape()) +
         "]";
}

[[noreturn]] void freed_graph(const char* op) {
  throw std::invalid_argument(
      std::string(op) +
      ": Trying to backward through the graph a second time (or directly access saved tensors "
      "after they have already been freed). Saved intermediate values of the graph are freed "
      "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
      "backward through the graph a second time or if you need to access saved tensors after "
      "calling backward.");
}

// A gradient that only its maker holds may be added into in place; one that aliases a
// value someone else can see (a seed the user passed, a .grad handed out) may not.
bool exclusively_owned(const Tensor& t) {
  const auto& n = AutogradAccess::node(t);
  return n.use_count() == 1 && n->value.use_count() == 1 && !n->grad_fn;
}

// acc += g, in place when acc is ours alone and nothing records, else as a new tensor
// (taped when grad mode is on, so the sum is differentiable).
void add_into(Tensor& acc, const Tensor& g) {
  if (!g.defined()) return;
  if (!acc.defined()) {
    acc = g;
    return;
  }
  if (!grad_enabled() && exclusively_owned(acc) && !g.requires_grad()) {
    dispatch(acc.dtype(), [&]<class T>() {
      T* a = acc.mutable_value<T>().data();
      const T* b = g.value<T>().data();
      const std::size_t n = acc.numel();
      for (std::size_t k = 0; k < n; ++k) a[k] += b[k];
    });
    return;
  }
  acc = add(acc, g);
}

}  // namespace

/// One backward pass over one or more roots.
class BackwardRun {
 public:
  BackwardRun(bool retain_graph, bool create_graph)
      : retain_graph_(retain_graph), create_graph_(create_graph) {}

  /// grad() mode: gradients reaching `inputs` are collected instead of accumulated
  /// into leaves' .grad, and only entries that lead to one of them run.
  void capture(const std::vector<Tensor>& inputs, const std::vector<Tensor>& roots) {
    capturing_ = true;
    captured_.assign(inputs.size(), Tensor());
    for (std::size_t i = 0; i < inputs.size(); ++i)
      capture_index_.emplace(AutogradAccess::node(inputs[i]).get(), i);
    mark_needed(roots);
  }

  void seed(const Tensor& root, const Tensor& g) { deliver(root, g, "backward"); }

  void run() {
    GradModeGuard mode(create_graph_);
    std::vector<std::shared_ptr<Entry>> done;
    while (!heap_.empty()) {
      const auto [seq, raw] = heap_.top();
      heap_.pop();
      auto it = pending_.find(raw);
      Pending p = std::move(it->second);
      pending_.erase(it);
      Entry& e = *p.entry;
      if (e.released || !e.backward) freed_graph(e.op);
      check_versions(e);
      if (auto out = e.output.lock(); out && out->retain_grad) {
        Tensor holder = AutogradAccess::wrap(out);
        accumulate_leaf_grad(holder, p.grad);
      }
      GradContext ctx(e.op, p.grad, e.inputs, e, *this, create_graph_);
      e.backward(ctx);
      p.grad = Tensor();  // an intermediate's gradient is dead once its closure ran
      done.push_back(std::move(p.entry));
    }
    // The graph is freed only now: until the last closure ran, the outputs some of them
    // read were held by the entries that consumed them.
    if (!retain_graph_)
      for (auto& e : done) e->release();
  }

  std::vector<Tensor>& captured() { return captured_; }

  /// Routes gradient g of tensor t (an input of `op`, or a root).
  void deliver(const Tensor& t, const Tensor& g, const char* op) {
    if (!g.defined() || !t.requires_grad()) return;
    check_matches(op, t, g);
    const auto& node = AutogradAccess::node(t);
    if (capturing_) {
      if (auto c = capture_index_.find(node.get()); c != capture_index_.end())
        add_into(captured_[c->second], g);
    }
    if (const auto& fn = node->grad_fn) {
      if (capturing_ && !needed_.count(fn.get())) return;
      auto [it, fresh] = pending_.try_emplace(fn.get());
      if (fresh) {
        it->second.entry = fn;
        heap_.emplace(fn->seq, fn.get());
      }
      add_into(it->second.grad, g);
      return;
    }
    if (!capturing_) accumulate_leaf_grad(t, g);
  }

 private:
  struct Pending {
    std::shared_ptr<Entry> entry;
    Tensor grad;
  };

  static void check_matches(const char* op, const Tensor& t, const Tensor& g) {
    if (g.dtype() != t.dtype())
      throw std::invalid_argument(std::string(op) + ": gradient has dtype " +
                                  dtype_name(g.dtype()) + " but the input has dtype " +
                                  dtype_name(t.dtype()));
    if (g.shape() != t.shape())
      throw std::invalid_argument(std::string(op) + ": gradient of shape " + shape_str(g.shape()) +
                                  " does not match the input's shape " + shape_str(t.shape()));
  }

  void accumulate_leaf_grad(const Tensor& t, const Tensor& g) {
    const auto& node = AutogradAccess::node(t);
    if (!node->grad) {
      // Keep g itself when nobody else holds it; otherwise a copy, so that later
      // in-place accumulation never writes into the user's seed or another gradient.
      Tensor own = (create_graph_ || exclusively_owned(g)) ? g : g.clone_detached();
      node->grad = AutogradAccess::node(own);
      return;
    }
    Tensor acc = AutogradAccess::wrap(node->grad);
    if (create_graph_ || acc.requires_grad() || g.requires_grad()) {
      node->grad = AutogradAccess::node(add(acc, g));
      return;
    }
    // First-order accumulation adds in place, as PyTorch does: a handle from grad()
    // sees the new value.
    dispatch(acc.dtype(), [&]<class T>() {
      T* a = acc.mutable_value<T>().data();
      const T* b = g.value<T>().data();
      const std::size_t n = acc.numel();
      for (std::size_t k = 0; k < n; ++k) a[k] += b[k];
    });
  }

  static void check_versions(const Entry& e) {
    auto fail = [&](const Tensor& t, const std::string& which, std::uint64_t saved) {
      throw std::invalid_argument(
          std::string(e.op) +
          ": one of the variables needed for gradient computation has been modified by an "
          "inplace operation: " +
          describe(t) + " (" + which + " of " + e.op + ") is at version " +
          std::to_string(t.version()) + "; expected version " + std::to_string(saved) +
          " instead. Writes through the non-const Tensor::value<T>() count as modifications; "
          "read through a const handle or cvalue<T>() to avoid that.");
    };
    for (std::size_t i = 0; i < e.inputs.size(); ++i)
      if (e.input_versions[i] != kNotSaved && e.inputs[i].version() != e.input_versions[i])
        fail(e.inputs[i], "input " + std::to_string(i), e.input_versions[i]);
    if (e.output_version != kNotSaved)
      if (auto out = e.output.lock()) {
        Tensor t = AutogradAccess::wrap(out);
        if (t.version() != e.output_version) fail(t, "output 0", e.output_version);
      }
  }

  // The entries from which some captured input can be reached.
  void mark_needed(const std::vector<Tensor>& roots) {
    std::unordered_map<Entry*, bool> memo;
    std::vector<std::pair<Entry*, std::size_t>> stack;
    auto leads = [&](Entry* root) {
      // Iterative post-order walk: an entry is needed if an input is captured or
      // its producer is needed.
      stack.emplace_back(root, 0);
      memo.emplace(root, false);
      while (!stack.empty()) {
        auto& [e, i] = stack.back();
        if (i < e->inputs.size()) {
          const Tensor& in = e->inputs[i++];
          if (!in.defined() || !in.requires_grad()) continue;
          const auto& n = AutogradAccess::node(in);
          if (capture_index_.count(n.get())) memo[e] = true;
          if (Entry* f = n->grad_fn.get()) {
            auto [it, fresh] = memo.emplace(f, false);
            if (fresh) stack.emplace_back(f, 0);
          }
          continue;
        }
        Entry* done = e;
        stack.pop_back();
        for (const Tensor& in : done->inputs)
          if (in.defined())
            if (Entry* f = AutogradAccess::node(in)->grad_fn.get(); f && memo[f]) memo[done] = true;
      }
    };
    for (const Tensor& r : roots)
      if (Entry* f = AutogradAccess::node(r)->grad_fn.get(); f && !memo.count(f)) leads(f);
    for (auto& [e, needed] : memo)
      if (needed) needed_.insert(e);
  }

  bool retain_graph_, create_graph_;
  bool capturing_ = false;
  std::priority_queue<std::pair<std::uint64_t, Entry*>> heap_;
  std::unordered_map<Entry*, Pending> pending_;
  std::unordered_map<const Node*, std::size_t> capture_index_;
  std::unordered_set<Entry*> needed_;
  std::vector<Tensor> captured_;
};

}  // namespace detail

// ---- GradContext ----

const Tensor& GradContext::output_value() const {
  if (!output_.defined()) {
    auto out = entry_.output.lock();
    if (!out)
      throw std::logic_error(std::string(op_) + ": the output of this op is no longer alive");
    output_ = AutogradAccess::wrap(std::move(out));
  }
  return output_;
}

Tensor GradContext::output() const { return output_value(); }

void GradContext::accumulate(std::size_t i, const Tensor& g) const {
  if (i >= inputs_.size())
    throw std::logic_error(std::string(op_) + ": backward sent a gradient to input " +
                           std::to_string(i) + " of " + std::to_string(inputs_.size()));
  run_.deliver(inputs_[i], g, op_);
}

void GradContext::accumulate_raw(std::size_t i, const Tensor& g) const {
  if (!create_graph_) {
    accumulate(i, g);
    return;
  }
  // A gradient computed on raw arrays carries no graph; under create_graph it must not
  // silently count as a constant, so it gets an entry that refuses to run.
  std::vector<Tensor> deps{grad_output_};
  for (const Tensor& in : inputs_) deps.push_back(in);
  const std::string name = std::string(op_);
  Tensor marked = record(
      op_, g.detach(), std::move(deps),
      [name](const GradContext&) {
        throw std::invalid_argument(
            name +
            ": trying to differentiate twice an op whose backward was written on raw "
            "arrays (it is only once differentiable); write its backward with taped ops "
            "to get higher-order gradients");
      },
      Saved::none());
  accumulate(i, marked);
}

// ---- entry points ----

namespace {

std::vector<Tensor> default_seeds(const char* fn, const std::vector<Tensor>& outputs,
                                  const std::vector<Tensor>& grad_outputs) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    throw std::invalid_argument(std::string(fn) + ": grad_outputs has " +
                                std::to_string(grad_outputs.size()) + " tensors but outputs has " +
                                std::to_string(outputs.size()));
  std::vector<Tensor> seeds(outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& y = outputs[i];
    check_defined(fn, y, "output");
    if (!y.requires_grad())
      throw std::invalid_argument(std::string(fn) + ": element " + std::to_string(i) +
                                  " of tensors does not require grad and does not have a grad_fn");
    if (i < grad_outputs.size() && grad_outputs[i].defined()) {
      const Tensor& s = grad_outputs[i];
      if (s.dtype() != y.dtype())
        throw std::invalid_argument(std::string(fn) + ": seed gradient has dtype " +
                                    dtype_name(s.dtype()) + " but the tensor has dtype " +
                                    dtype_name(y.dtype()));
      if (s.shape() != y.shape())
        throw std::invalid_argument(std::string(fn) + ": Mismatch in shape: grad_output[" +
                                    std::to_string(i) + "] has a shape of " + shape_str(s.shape()) +
                                    " and output[" + std::to_string(i) + "] has a shape of " +
                                    shape_str(y.shape()) + ".");
      seeds[i] = s;
    } else {
      if (y.numel() != 1)
        throw std::invalid_argument(std::string(fn) +
                                    ": grad can be implicitly created only for scalar outputs, "
                                    "but got a tensor of shape " +
                                    shape_str(y.shape()) + "; pass a seed gradient of that shape");
      seeds[i] = Tensor::ones(y.shape(), y.dtype());
    }
  }
  return seeds;
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool retain_graph, bool create_graph) {
  const std::vector<Tensor> seeds = default_seeds("backward", outputs, grad_outputs);
  detail::BackwardRun run(retain_graph || create_graph, create_graph);
  for (std::size_t i = 0; i < outputs.size(); ++i) run.seed(outputs[i], seeds[i]);
  run.run();
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, const GradOptions& options) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_defined("grad", inputs[i], "input");
    if (!inputs[i].requires_grad())
      throw std::invalid_argument("grad: One of the differentiated Tensors (input " +
                                  std::to_string(i) + ") does not require grad");
  }
  const std::vector<Tensor> seeds = default_seeds("grad", outputs, grad_outputs);
  const bool retain = options.retain_graph.value_or(options.create_graph);
  detail::BackwardRun run(retain, options.create_graph);
  run.capture(inputs, outputs);
  for (std::size_t i = 0; i < outputs.size(); ++i) run.seed(outputs[i], seeds[i]);
  run.run();
  std::vector<Tensor> result = std::move(run.captured());
  for (std::size_t i = 0; i < result.size(); ++i)
    if (!result[i].defined() && !options.allow_unused)
      throw std::invalid_argument(
          "grad: One of the differentiated Tensors (input " + std::to_string(i) +
          ") appears to not have been used in the graph. Set allow_unused=True if this is the "
          "desired behavior.");
  return result;
}

void Tensor::backward(bool retain_graph, bool create_graph) const {
  check_defined("backward", *this, "tensor");
  tapegrad::backward({*this}, {}, retain_graph, create_graph);
}

void Tensor::backward(const Tensor& seed, bool retain_graph, bool create_graph) const {
  check_defined("backward", *this, "tensor");
  check_defined("backward", seed, "seed");
  tapegrad::backward({*this}, {seed}, retain_graph, create_graph);
}

}  // namespace tapegrad
