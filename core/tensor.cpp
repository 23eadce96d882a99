#include <atomic>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <tapegrad/core/detail/entry.hpp>
#include <tapegrad/core/errors.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

const char* dtype_name(Dtype d) { return d == Dtype::Float32 ? "float32" : "float64"; }

namespace detail {
namespace {
std::atomic<std::int64_t> g_live_nodes{0};
}
Node::Node() { g_live_nodes.fetch_add(1, std::memory_order_relaxed); }
Node::~Node() { g_live_nodes.fetch_sub(1, std::memory_order_relaxed); }

Shape storage_shape(const Storage& s) {
  return std::visit([](const auto& a) { return Shape(a.shape().begin(), a.shape().end()); },
                    s.data);
}
std::size_t storage_bytes(const Storage& s) {
  return std::visit(
      [](const auto& a) {
        return a.size() * sizeof(typename std::decay_t<decltype(a)>::value_type);
      },
      s.data);
}
Dtype storage_dtype(const Storage& s) {
  return s.data.index() == 0 ? Dtype::Float32 : Dtype::Float64;
}
}  // namespace detail

namespace {
void require_defined(const Tensor& t, const char* what) {
  if (!t.defined())
    throw std::invalid_argument(std::string(what) + ": called on an undefined tensor");
}
template <class T>
Array<T> uninitialised(const char* op, const Shape& shape) {
  checked_numel(op, shape);
  OpScope scope(op);
  return Array<T>::from_shape(shape);
}
}  // namespace

Tensor Tensor::from_storage(std::shared_ptr<detail::Storage> storage, bool requires_grad) {
  auto node = std::make_shared<detail::Node>();
  node->value = std::move(storage);
  node->requires_grad = requires_grad;
  return Tensor(std::move(node));
}

Tensor Tensor::scalar(double value, Dtype dtype, bool requires_grad) {
  return full({}, value, dtype, requires_grad);
}
namespace {
Tensor filled(const char* op, const Shape& shape, double value, Dtype dtype, bool rg) {
  return dispatch(dtype, [&]<class T>() {
    Array<T> a = uninitialised<T>(op, shape);
    a.fill(static_cast<T>(value));
    return Tensor::from_array(std::move(a), rg);
  });
}
}  // namespace

Tensor Tensor::zeros(const Shape& shape, Dtype dtype, bool rg) {
  return filled("zeros", shape, 0.0, dtype, rg);
}
Tensor Tensor::ones(const Shape& shape, Dtype dtype, bool rg) {
  return filled("ones", shape, 1.0, dtype, rg);
}
Tensor Tensor::full(const Shape& shape, double value, Dtype dtype, bool rg) {
  return filled("full", shape, value, dtype, rg);
}
Tensor Tensor::empty(const Shape& shape, Dtype dtype) {
  return dispatch(dtype, [&]<class T>() { return from_array(uninitialised<T>("empty", shape)); });
}
Tensor Tensor::zeros_like(const Tensor& t) {
  check_defined("zeros_like", t);
  return zeros(t.shape(), t.dtype());
}
Tensor Tensor::ones_like(const Tensor& t) {
  check_defined("ones_like", t);
  return ones(t.shape(), t.dtype());
}
Tensor Tensor::full_like(const Tensor& t, double value) {
  check_defined("full_like", t);
  return full(t.shape(), value, t.dtype());
}

Tensor Tensor::arange(double start, double stop, double step, Dtype dtype) {
  auto bounds = [&] {
    return "(start=" + std::to_string(start) + ", stop=" + std::to_string(stop) +
           ", step=" + std::to_string(step) + ")";
  };
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    throw std::invalid_argument("arange: unsupported range: start, stop and step must be finite " +
                                bounds());
  if (step == 0) throw std::invalid_argument("arange: step must be nonzero");
  const double span = (stop - start) / step;
  if (span < 0)
    throw std::invalid_argument(
        "arange: upper bound and larger bound inconsistent with step sign " + bounds());
  const double count = std::ceil(span);
  if (!(count <= static_cast<double>(kMaxNumel)))
    throw std::invalid_argument("arange: unsupported range: it would hold " +
                                std::to_string(count) + " elements " + bounds());
  const auto n = static_cast<std::size_t>(count);
  return dispatch(dtype, [&]<class T>() {
    Array<T> a = uninitialised<T>("arange", {n});
    for (std::size_t i = 0; i < n; ++i) a(i) = static_cast<T>(start + double(i) * step);
    return from_array(std::move(a));
  });
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, Dtype dtype, bool rg) {
  return dispatch(dtype, [&]<class T>() {
    Array<T> a = uninitialised<T>("rand", shape);
    for (auto& v : a) v = static_cast<T>(gen.uniform());
    return from_array(std::move(a), rg);
  });
}
Tensor Tensor::randn(const Shape& shape, Generator& gen, Dtype dtype, bool rg) {
  return dispatch(dtype, [&]<class T>() {
    Array<T> a = uninitialised<T>("randn", shape);
    for (auto& v : a) v = static_cast<T>(gen.normal());
    return from_array(std::move(a), rg);
  });
}

Dtype Tensor::dtype() const {
  require_defined(*this, "dtype");
  return detail::storage_dtype(*node_->value);
}
Shape Tensor::shape() const {
  require_defined(*this, "shape");
  return detail::storage_shape(*node_->value);
}
std::size_t Tensor::dim() const {
  require_defined(*this, "dim");
  return std::visit([](const auto& a) { return a.dimension(); }, node_->value->data);
}
std::size_t Tensor::size(std::int64_t d) const {
  const auto n = static_cast<std::int64_t>(dim());
  const std::int64_t k = d < 0 ? d + n : d;
  if (k < 0 || k >= n)
    throw std::invalid_argument("size: dimension out of range (expected to be in range of [" +
                                std::to_string(-n) + ", " + std::to_string(n - 1) + "], but got " +
                                std::to_string(d) + ")");
  return shape()[static_cast<std::size_t>(k)];
}
std::size_t Tensor::numel() const {
  require_defined(*this, "numel");
  return std::visit([](const auto& a) { return a.size(); }, node_->value->data);
}

double Tensor::item() const {
  require_defined(*this, "item");
  if (numel() != 1)
    throw std::invalid_argument("item: a Tensor with " + std::to_string(numel()) +
                                " elements cannot be converted to Scalar (shape " +
                                shape_str(shape()) + ")");
  return std::visit([](const auto& a) { return static_cast<double>(*a.data()); },
                    node_->value->data);
}

template <class T>
const Array<T>& Tensor::value() const {
  require_defined(*this, "value");
  if (auto* p = std::get_if<Array<T>>(&node_->value->data)) return *p;
  throw std::invalid_argument(std::string("value: expected a tensor of dtype ") +
                              dtype_name(dtype_of<T>()) + ", but got " + dtype_name(dtype()));
}
template const Array<float>& Tensor::value<float>() const;
template const Array<double>& Tensor::value<double>() const;

template <class T>
Array<T>& Tensor::mutable_value() {
  const Array<T>& v = static_cast<const Tensor*>(this)->value<T>();
  ++node_->value->version;
  return const_cast<Array<T>&>(v);
}
template Array<float>& Tensor::mutable_value<float>();
template Array<double>& Tensor::mutable_value<double>();

std::uint64_t Tensor::version() const {
  require_defined(*this, "version");
  return node_->value->version;
}
void Tensor::bump_version() {
  require_defined(*this, "bump_version");
  ++node_->value->version;
}

void Tensor::set_data(const Tensor& other) {
  require_defined(*this, "set_data");
  require_defined(other, "set_data");
  if (node_->grad_fn)
    throw std::invalid_argument("set_data: only leaf tensors can have their data replaced");
  node_->value = other.node_->value;
  node_->grad.reset();
}

bool Tensor::requires_grad() const { return node_ && node_->requires_grad; }
Tensor& Tensor::requires_grad_(bool on) {
  require_defined(*this, "requires_grad_");
  if (node_->grad_fn && !on)
    throw std::invalid_argument(
        "requires_grad_: you can only change requires_grad flags of leaf variables; use "
        "detach() to get a tensor that does not require grad");
  node_->requires_grad = on;
  return *this;
}
bool Tensor::is_leaf() const { return !node_ || !node_->grad_fn; }
Tensor& Tensor::retain_grad() {
  require_defined(*this, "retain_grad");
  if (!node_->requires_grad)
    throw std::invalid_argument(
        "retain_grad: can't retain_grad on a tensor that has requires_grad=False");
  if (node_->grad_fn) node_->retain_grad = true;  // leaves keep their gradient anyway
  return *this;
}
bool Tensor::retains_grad() const { return node_ && node_->retain_grad; }
std::string Tensor::grad_fn_name() const {
  return node_ && node_->grad_fn ? node_->grad_fn->op : "";
}

Tensor Tensor::grad() const {
  if (!node_ || !node_->grad) return Tensor();
  return Tensor(node_->grad);
}
bool Tensor::has_grad() const { return node_ && node_->grad; }
void Tensor::set_grad(const Tensor& g) {
  require_defined(*this, "set_grad");
  if (!g.defined()) {
    node_->grad.reset();
    return;
  }
  if (g.dtype() != dtype() || g.shape() != shape())
    throw std::invalid_argument(
        "set_grad: assigned grad has data of a different size or type: "
        "expected " +
        std::string(dtype_name(dtype())) + " " + shape_str(shape()) + ", got " +
        dtype_name(g.dtype()) + " " + shape_str(g.shape()));
  node_->grad = g.node_;
}
void Tensor::zero_grad() {
  if (node_) node_->grad.reset();
}
Tensor Tensor::detach() const {
  require_defined(*this, "detach");
  return from_storage(node_->value);
}
Tensor Tensor::clone_detached() const {
  require_defined(*this, "clone");
  OpScope scope("clone");
  return from_storage(std::make_shared<detail::Storage>(node_->value->data));
}

std::int64_t Tensor::live_nodes() { return detail::g_live_nodes.load(); }

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string(op) +
                                ": expected both operands to have the same dtype, but got " +
                                dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()));
}
void check_defined(const char* op, const Tensor& t, const char* what) {
  if (!t.defined())
    throw std::invalid_argument(std::string(op) + ": " + what + " is an undefined tensor");
}

}  // namespace tapegrad
