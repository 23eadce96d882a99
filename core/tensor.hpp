#pragma once
// Tensor: a cheap, reference-counted handle to a node that holds a value, a lazily
// allocated gradient and the bookkeeping the tape needs. float32 and float64 are
// chosen at run time (like PyTorch), so mixing them is a checked error, not a
// template instantiation puzzle.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <xtensor/xarray.hpp>

namespace tapegrad {

/// Element type of a tensor.
enum class Dtype { Float32, Float64 };

/// "float32" or "float64", as PyTorch prints them.
const char* dtype_name(Dtype d);

/// Shape of a tensor: one extent per dimension, outermost first.
using Shape = std::vector<std::size_t>;

/// "[2, 3, 4]".
std::string shape_str(const Shape& s);

/// The Dtype of a C++ element type (float or double).
template <class T>
constexpr Dtype dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "tapegrad tensors hold float or double");
  return std::is_same_v<T, float> ? Dtype::Float32 : Dtype::Float64;
}

/// Seeded random number generator passed explicitly wherever randomness is used,
/// so a seed reproduces a run exactly.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : engine_(seed) {}
  /// Uniform in [lo, hi).
  double uniform(double lo = 0.0, double hi = 1.0);
  /// Normal with the given mean and standard deviation.
  double normal(double mean = 0.0, double stddev = 1.0);
  /// The underlying engine, for std:: distributions.
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

namespace detail {
/// Dense row-major storage of either element type.
using Storage = std::variant<xt::xarray<float>, xt::xarray<double>>;
struct Node;
}  // namespace detail

class Tape;

/// Handle to a tensor node. Copies share the node (like torch::Tensor).
class Tensor {
 public:
  /// An undefined tensor (defined() is false).
  Tensor() = default;

  /// Wraps an xtensor container or expression; the dtype follows its value_type.
  template <class E>
  static Tensor from(E&& expr, bool requires_grad = false) {
    using T = typename std::decay_t<E>::value_type;
    return from_storage(std::make_shared<detail::Storage>(xt::xarray<T>(std::forward<E>(expr))),
                        requires_grad);
  }
  /// A 0-d tensor holding `value`.
  static Tensor scalar(double value, Dtype dtype = Dtype::Float32, bool requires_grad = false);
  static Tensor zeros(const Shape& shape, Dtype dtype = Dtype::Float32, bool requires_grad = false);
  static Tensor ones(const Shape& shape, Dtype dtype = Dtype::Float32, bool requires_grad = false);
  static Tensor full(const Shape& shape, double value, Dtype dtype = Dtype::Float32,
                     bool requires_grad = false);
  /// Values start, start+step, ... below stop (1-d), as torch.arange.
  static Tensor arange(double start, double stop, double step = 1.0, Dtype dtype = Dtype::Float32);
  /// Uniform in [0, 1).
  static Tensor rand(const Shape& shape, Generator& gen, Dtype dtype = Dtype::Float32,
                     bool requires_grad = false);
  /// Standard normal.
  static Tensor randn(const Shape& shape, Generator& gen, Dtype dtype = Dtype::Float32,
                      bool requires_grad = false);

  bool defined() const { return node_ != nullptr; }
  Dtype dtype() const;
  /// Extents of each dimension (a copy: xtensor keeps its own small-vector type).
  Shape shape() const;
  /// Number of dimensions.
  std::size_t dim() const { return shape().size(); }
  /// Extent of dimension d; negative d counts from the end.
  std::size_t size(std::int64_t d) const;
  std::size_t numel() const;

  /// The single value of a one-element tensor, as double.
  double item() const;
  template <class T>
  T item() const {
    return static_cast<T>(item());
  }

  /// The value as an xtensor container; throws std::invalid_argument on a dtype mismatch.
  template <class T>
  xt::xarray<T>& value();
  template <class T>
  const xt::xarray<T>& value() const;

  bool requires_grad() const;
  /// Marks a leaf as needing a gradient (parameters, gradcheck inputs).
  Tensor& requires_grad_(bool on = true);
  /// True for tensors not produced by a recorded op.
  bool is_leaf() const;
  /// Keep the gradient of a non-leaf after backward (leaves always keep theirs).
  Tensor& retain_grad();

  /// The accumulated gradient (shares storage), or an undefined tensor if none.
  Tensor grad() const;
  bool has_grad() const;
  /// Forget the gradient (PyTorch's set_to_none=True).
  void zero_grad();
  /// A leaf sharing this tensor's value, outside any graph.
  Tensor detach() const;
  /// A leaf holding a copy of the value.
  Tensor clone_detached() const;

  /// Runs the tape backwards from this scalar (dL/dthis = 1). Unless retain_graph,
  /// the tape is cleared afterwards, freeing every intermediate.
  void backward(bool retain_graph = false) const;
  /// As above with an explicit seed gradient of this tensor's shape and dtype.
  void backward(const Tensor& seed, bool retain_graph = false) const;

  /// Number of tensor nodes alive in the process (for leak tests).
  static std::int64_t live_nodes();

  /// Identity of the underlying node (two handles to one node compare equal).
  const void* id() const { return node_.get(); }

  /// Internal: wraps existing storage as a new node.
  static Tensor from_storage(std::shared_ptr<detail::Storage> storage, bool requires_grad = false);
  /// Internal: the node.
  detail::Node* node() const { return node_.get(); }

 private:
  friend class Tape;
  std::shared_ptr<detail::Node> node_;
};

namespace detail {

/// One value in the graph. Nodes never point at tape entries (only at an entry
/// index and the tape's generation), so ownership runs tape -> entry -> node.
struct Node {
  std::shared_ptr<Storage> value;
  std::shared_ptr<Storage> grad;  // null until the first gradient arrives
  bool requires_grad = false;
  bool is_leaf = true;
  bool retain_grad = false;
  const Tape* tape = nullptr;     // tape whose entry produced this node, if any
  std::uint64_t generation = 0;   // that tape's generation when recorded
  std::size_t entry = 0;          // index of the producing entry

  Node();
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
};

/// Shape of a storage.
Shape storage_shape(const Storage& s);
/// Bytes held by a storage's elements.
std::size_t storage_bytes(const Storage& s);
Dtype storage_dtype(const Storage& s);

}  // namespace detail

template <class T>
xt::xarray<T>& Tensor::value() {
  return const_cast<xt::xarray<T>&>(static_cast<const Tensor*>(this)->value<T>());
}

/// Throws std::invalid_argument naming `op` unless `a` and `b` share a dtype.
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
/// Throws std::invalid_argument naming `op` unless `t` is defined.
void check_defined(const char* op, const Tensor& t, const char* what = "input");

/// Calls f.template operator()<T>() with T = float or double per `d`.
template <class F>
decltype(auto) dispatch(Dtype d, F&& f) {
  if (d == Dtype::Float32) return f.template operator()<float>();
  return f.template operator()<double>();
}

}  // namespace tapegrad
