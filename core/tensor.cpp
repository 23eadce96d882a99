#include <tapegrad/core/tensor.hpp>

#include <atomic>
#include <cstdlib>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include <tapegrad/core/tape.hpp>

#include <malloc.h>

namespace tapegrad {

namespace {

// A training step allocates the same tensors every step. glibc serves blocks above its
// mmap threshold (128 KiB at first) with fresh mmap()s and returns them with munmap(),
// so every step page-faults its activations and gradients in again: on the batch-64
// autoencoder layers that doubled the time of a forward+backward (e.g. 0.48 against
// 0.20 ms for the first conv). Raising the threshold to glibc's maximum (32 MiB) and
// trimming the heap only past 256 MiB of free memory lets freed blocks be reused
// instead. Peak memory is unchanged; the resident size just stays at the peak. Skipped
// when the user tunes malloc already (MALLOC_*_ / GLIBC_TUNABLES) or sets
// TAPEGRAD_NO_MALLOC_TUNING.
[[maybe_unused]] const bool malloc_tuned = [] {
  for (const char* v : {"TAPEGRAD_NO_MALLOC_TUNING", "GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_",
                        "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"})
    if (std::getenv(v) != nullptr) return false;
  return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1;
}();

}  // namespace

const char* dtype_name(Dtype d) { return d == Dtype::Float32 ? "float32" : "float64"; }

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

double Generator::uniform(double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(engine_);
}
double Generator::normal(double mean, double stddev) {
  return std::normal_distribution<double>(mean, stddev)(engine_);
}

namespace detail {
namespace {
std::atomic<std::int64_t> g_live_nodes{0};
}
Node::Node() { g_live_nodes.fetch_add(1, std::memory_order_relaxed); }
Node::~Node() { g_live_nodes.fetch_sub(1, std::memory_order_relaxed); }

Shape storage_shape(const Storage& s) {
  return std::visit([](const auto& a) { return Shape(a.shape().begin(), a.shape().end()); }, s);
}
std::size_t storage_bytes(const Storage& s) {
  return std::visit(
      [](const auto& a) {
        return a.size() * sizeof(typename std::decay_t<decltype(a)>::value_type);
      },
      s);
}
Dtype storage_dtype(const Storage& s) {
  return s.index() == 0 ? Dtype::Float32 : Dtype::Float64;
}
}  // namespace detail

namespace {
void require_defined(const Tensor& t, const char* what) {
  if (!t.defined())
    throw std::invalid_argument(std::string(what) + ": called on an undefined tensor");
}
template <class T>
Tensor filled(const Shape& shape, double v, bool rg) {
  xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
  a.fill(static_cast<T>(v));
  return Tensor::from(std::move(a), rg);
}
}  // namespace

Tensor Tensor::from_storage(std::shared_ptr<detail::Storage> storage, bool requires_grad) {
  Tensor t;
  t.node_ = std::make_shared<detail::Node>();
  t.node_->value = std::move(storage);
  t.node_->requires_grad = requires_grad;
  return t;
}

Tensor Tensor::scalar(double value, Dtype dtype, bool requires_grad) {
  return full({}, value, dtype, requires_grad);
}
Tensor Tensor::zeros(const Shape& shape, Dtype dtype, bool rg) { return full(shape, 0.0, dtype, rg); }
Tensor Tensor::ones(const Shape& shape, Dtype dtype, bool rg) { return full(shape, 1.0, dtype, rg); }
Tensor Tensor::full(const Shape& shape, double value, Dtype dtype, bool rg) {
  return dispatch(dtype, [&]<class T>() { return filled<T>(shape, value, rg); });
}

Tensor Tensor::arange(double start, double stop, double step, Dtype dtype) {
  if (step == 0) throw std::invalid_argument("arange: step must be nonzero");
  if ((stop - start) / step < 0)
    throw std::invalid_argument("arange: upper bound and step sign are inconsistent (start=" +
                                std::to_string(start) + ", stop=" + std::to_string(stop) +
                                ", step=" + std::to_string(step) + ")");
  const auto n = static_cast<std::size_t>(std::ceil((stop - start) / step));
  return dispatch(dtype, [&]<class T>() {
    xt::xarray<T> a = xt::xarray<T>::from_shape({n});
    for (std::size_t i = 0; i < n; ++i) a(i) = static_cast<T>(start + double(i) * step);
    return Tensor::from(std::move(a));
  });
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, Dtype dtype, bool rg) {
  return dispatch(dtype, [&]<class T>() {
    xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
    for (auto& v : a) v = static_cast<T>(gen.uniform());
    return Tensor::from(std::move(a), rg);
  });
}
Tensor Tensor::randn(const Shape& shape, Generator& gen, Dtype dtype, bool rg) {
  return dispatch(dtype, [&]<class T>() {
    xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
    for (auto& v : a) v = static_cast<T>(gen.normal());
    return Tensor::from(std::move(a), rg);
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
std::size_t Tensor::size(std::int64_t d) const {
  const auto n = static_cast<std::int64_t>(dim());
  const std::int64_t k = d < 0 ? d + n : d;
  if (k < 0 || k >= n)
    throw std::invalid_argument("size: dimension out of range (expected to be in range of [" +
                                std::to_string(-n) + ", " + std::to_string(n - 1) +
                                "], but got " + std::to_string(d) + ")");
  return shape()[static_cast<std::size_t>(k)];
}
std::size_t Tensor::numel() const {
  require_defined(*this, "numel");
  return std::visit([](const auto& a) { return a.size(); }, *node_->value);
}

double Tensor::item() const {
  require_defined(*this, "item");
  if (numel() != 1)
    throw std::invalid_argument("item: a Tensor with " + std::to_string(numel()) +
                                " elements cannot be converted to Scalar (shape " +
                                shape_str(shape()) + ")");
  return std::visit([](const auto& a) { return static_cast<double>(*a.data()); }, *node_->value);
}

template <class T>
const xt::xarray<T>& Tensor::value() const {
  require_defined(*this, "value");
  if (auto* p = std::get_if<xt::xarray<T>>(node_->value.get())) return *p;
  throw std::invalid_argument(std::string("value: expected a tensor of dtype ") +
                              dtype_name(dtype_of<T>()) + ", but got " + dtype_name(dtype()));
}
template const xt::xarray<float>& Tensor::value<float>() const;
template const xt::xarray<double>& Tensor::value<double>() const;

bool Tensor::requires_grad() const { return node_ && node_->requires_grad; }
Tensor& Tensor::requires_grad_(bool on) {
  require_defined(*this, "requires_grad_");
  if (!node_->is_leaf && !on)
    throw std::invalid_argument(
        "requires_grad_: you can only change requires_grad flags of leaf variables; use "
        "detach() to get a tensor that does not require grad");
  node_->requires_grad = on;
  return *this;
}
bool Tensor::is_leaf() const { return !node_ || node_->is_leaf; }
Tensor& Tensor::retain_grad() {
  require_defined(*this, "retain_grad");
  if (!node_->requires_grad)
    throw std::invalid_argument("retain_grad: can't retain_grad on a tensor that has requires_grad=False");
  node_->retain_grad = true;
  return *this;
}

Tensor Tensor::grad() const {
  if (!node_ || !node_->grad) return Tensor();
  return from_storage(node_->grad);
}
bool Tensor::has_grad() const { return node_ && node_->grad; }
void Tensor::zero_grad() {
  if (node_) node_->grad.reset();
}
Tensor Tensor::detach() const {
  require_defined(*this, "detach");
  return from_storage(node_->value);
}
Tensor Tensor::clone_detached() const {
  require_defined(*this, "clone");
  return from_storage(std::make_shared<detail::Storage>(*node_->value));
}

void Tensor::backward(bool retain_graph) const {
  require_defined(*this, "backward");
  if (!requires_grad())
    throw std::invalid_argument(
        "backward: element 0 of tensors does not require grad and does not have a grad_fn");
  if (numel() != 1)
    throw std::invalid_argument(
        "backward: grad can be implicitly created only for scalar outputs, but got a tensor of "
        "shape " + shape_str(shape()) + "; pass a seed gradient of that shape");
  Tensor seed = Tensor::ones(shape(), dtype());
  backward(seed, retain_graph);
}

void Tensor::backward(const Tensor& seed, bool retain_graph) const {
  require_defined(*this, "backward");
  require_defined(seed, "backward (seed)");
  if (!requires_grad())
    throw std::invalid_argument(
        "backward: element 0 of tensors does not require grad and does not have a grad_fn");
  if (seed.dtype() != dtype())
    throw std::invalid_argument(std::string("backward: seed gradient has dtype ") +
                                dtype_name(seed.dtype()) + " but the tensor has dtype " +
                                dtype_name(dtype()));
  if (seed.shape() != shape())
    throw std::invalid_argument("backward: Mismatch in shape: seed gradient has shape " +
                                shape_str(seed.shape()) + " and output has shape " +
                                shape_str(shape()));
  Tape* tape = node_->is_leaf ? &Tape::current() : const_cast<Tape*>(node_->tape);
  if (tape == nullptr)
    throw std::invalid_argument(
        "backward: trying to backward through the graph a second time (or directly access "
        "saved tensors after they have already been freed): the tape that recorded this "
        "tensor was cleared; use backward(retain_graph=true) to keep it");
  tape->backward(*this, seed, retain_graph);
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
