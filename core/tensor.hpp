#pragma once
// Tensor: a cheap, reference-counted handle to a node that holds a value, a lazily
// allocated gradient and, for a tensor an op produced, the graph entry (grad_fn) that
// knows how to send gradients back to the op's inputs. float32 and float64 are chosen
// at run time (like PyTorch), so mixing them is a checked error, not a template
// instantiation puzzle.
//
// Every value lives in a Storage with a version counter. Writes through a mutable
// accessor (the non-const value<T>(), mutable_value<T>()) and in-place ops bump it;
// the graph records the version of each tensor a backward formula will read and
// refuses to run that formula if the tensor was modified since (PyTorch's "modified by
// an inplace operation" check). Reading through a const handle never bumps.
#include <cstdint>
#include <memory>
#include <string>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/generator.hpp>
#include <tapegrad/core/shape.hpp>
#include <type_traits>
#include <variant>
#include <vector>

namespace tapegrad {

/// Element type of a tensor.
enum class Dtype { Float32, Float64 };

/// "float32" or "float64", as PyTorch prints them.
const char* dtype_name(Dtype d);

/// The Dtype of a C++ element type (float or double).
template <class T>
constexpr Dtype dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "tapegrad tensors hold float or double");
  return std::is_same_v<T, float> ? Dtype::Float32 : Dtype::Float64;
}

namespace detail {

/// A value of either element type plus the version counter of in-place safety.
/// Shared by tensors that alias one value (detach()).
struct Storage {
  std::variant<Array<float>, Array<double>> data;
  std::uint64_t version = 0;

  template <class A>
  explicit Storage(A&& a) : data(std::forward<A>(a)) {}
};

struct Entry;
struct Node;

}  // namespace detail

/// Handle to a tensor node. Copies share the node (like torch::Tensor).
class Tensor {
 public:
  /// An undefined tensor (defined() is false).
  Tensor() = default;

  /// Wraps an xtensor container or expression; the dtype follows its value_type.
  template <class E>
  static Tensor from(E&& expr, bool requires_grad = false) {
    using T = typename std::decay_t<E>::value_type;
    return from_array(Array<T>(std::forward<E>(expr)), requires_grad);
  }
  /// Wraps a value, taking ownership of its buffer (no copy).
  template <class T>
  static Tensor from_array(Array<T>&& value, bool requires_grad = false) {
    return from_storage(std::make_shared<detail::Storage>(std::move(value)), requires_grad);
  }
  /// A 0-d tensor holding `value`.
  static Tensor scalar(double value, Dtype dtype = Dtype::Float32, bool requires_grad = false);
  static Tensor zeros(const Shape& shape, Dtype dtype = Dtype::Float32, bool requires_grad = false);
  static Tensor ones(const Shape& shape, Dtype dtype = Dtype::Float32, bool requires_grad = false);
  static Tensor full(const Shape& shape, double value, Dtype dtype = Dtype::Float32,
                     bool requires_grad = false);
  /// An uninitialised tensor (its contents are unspecified).
  static Tensor empty(const Shape& shape, Dtype dtype = Dtype::Float32);
  /// Values start, start+step, ... below stop (1-d), as torch.arange.
  static Tensor arange(double start, double stop, double step = 1.0, Dtype dtype = Dtype::Float32);
  /// Uniform in [0, 1).
  static Tensor rand(const Shape& shape, Generator& gen, Dtype dtype = Dtype::Float32,
                     bool requires_grad = false);
  /// Standard normal.
  static Tensor randn(const Shape& shape, Generator& gen, Dtype dtype = Dtype::Float32,
                      bool requires_grad = false);
  /// Zeros, ones or a value, with the shape and dtype of `t`.
  static Tensor zeros_like(const Tensor& t);
  static Tensor ones_like(const Tensor& t);
  static Tensor full_like(const Tensor& t, double value);

  bool defined() const { return node_ != nullptr; }
  Dtype dtype() const;
  /// Extents of each dimension.
  Shape shape() const;
  /// Number of dimensions.
  std::size_t dim() const;
  /// Extent of dimension d; negative d counts from the end.
  std::size_t size(std::int64_t d) const;
  std::size_t numel() const;

  /// The single value of a one-element tensor, as double.
  double item() const;
  template <class T>
  T item() const {
    return static_cast<T>(item());
  }

  /// The value, read-only. Throws std::invalid_argument on a dtype mismatch.
  template <class T>
  const Array<T>& value() const;
  /// The value, writable: counts as a modification (bumps the version), so a graph
  /// that saved this tensor refuses to backward afterwards. Read through a const
  /// handle, or cvalue(), to avoid that.
  template <class T>
  Array<T>& value() {
    return mutable_value<T>();
  }
  /// The value, read-only, whatever the constness of the handle.
  template <class T>
  const Array<T>& cvalue() const {
    return value<T>();
  }
  /// The value, writable; bumps the version (see value()).
  template <class T>
  Array<T>& mutable_value();
  /// How many times the value was modified (writes through mutable accessors and
  /// in-place ops), shared by every tensor aliasing the value.
  std::uint64_t version() const;
  /// Records a modification made through a pointer obtained earlier.
  void bump_version();
  /// Replaces the value in place by `other`'s value (any shape or dtype), for every
  /// handle to this tensor, as PyTorch's set_data: used by Module::to(dtype). The
  /// gradient is dropped. Only for leaves.
  void set_data(const Tensor& other);

  bool requires_grad() const;
  /// Marks a leaf as needing a gradient (parameters, gradcheck inputs).
  Tensor& requires_grad_(bool on = true);
  /// True for tensors not produced by a recorded op.
  bool is_leaf() const;
  /// Keep the gradient of a non-leaf after backward (leaves always keep theirs).
  Tensor& retain_grad();
  bool retains_grad() const;
  /// Name of the op that produced this tensor ("mul", "conv2d", ...), or "" for a leaf.
  std::string grad_fn_name() const;

  /// The accumulated gradient, or an undefined tensor if none. It shares storage with
  /// the gradient held here (writes into it change it).
  Tensor grad() const;
  bool has_grad() const;
  /// Replaces the gradient (undefined to drop it); shape and dtype must match.
  void set_grad(const Tensor& g);
  /// Forget the gradient (PyTorch's set_to_none=True).
  void zero_grad();
  /// A leaf sharing this tensor's value (and its version counter), outside any graph.
  Tensor detach() const;
  /// A leaf holding a copy of the value.
  Tensor clone_detached() const;

  /// Backpropagates from this scalar (dL/dthis = 1), accumulating into the .grad of the
  /// leaves that require grad. The graph it ran through is freed afterwards unless
  /// retain_graph; other graphs are untouched. With create_graph the gradients are
  /// themselves recorded, so they can be differentiated again (retain_graph is then
  /// implied, as in PyTorch).
  void backward(bool retain_graph = false, bool create_graph = false) const;
  /// As above with an explicit seed gradient of this tensor's shape and dtype.
  void backward(const Tensor& seed, bool retain_graph = false, bool create_graph = false) const;

  /// Number of tensor nodes alive in the process (for leak tests).
  static std::int64_t live_nodes();

  /// Identity of the underlying node (two handles to one node compare equal).
  const void* id() const { return node_.get(); }

  /// Internal: wraps existing storage as a new node.
  static Tensor from_storage(std::shared_ptr<detail::Storage> storage, bool requires_grad = false);

 private:
  friend struct detail::Entry;
  friend class Tape;
  friend class GradContext;
  friend struct AutogradAccess;
  explicit Tensor(std::shared_ptr<detail::Node> node) : node_(std::move(node)) {}
  std::shared_ptr<detail::Node> node_;
};

namespace detail {

/// One value in the graph: the value, its gradient and, if an op produced it, the
/// entry of that op. Ownership runs from outputs to inputs only (node -> entry ->
/// input nodes), so there are no cycles.
struct Node {
  std::shared_ptr<Storage> value;
  std::shared_ptr<Node> grad;      // null until the first gradient arrives
  std::shared_ptr<Entry> grad_fn;  // null for leaves
  bool requires_grad = false;
  bool retain_grad = false;

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
