// The convolution kernels on arrays (conv2d.hpp): argument checks, then the shared
// problem drivers of conv_problem.hpp.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <tapegrad/core/kernels/conv2d.hpp>
#include <tapegrad/core/kernels/padding.hpp>

namespace tapegrad::kernels {

bool has_explicit_padding(const Conv2dGeometry& g) {
  return g.padding_mode != PaddingMode::Zeros &&
         (g.pad_top | g.pad_bottom | g.pad_left | g.pad_right) != 0;
}

namespace {

// The plane geometry of a problem whose x planes are height × width with top/left
// padding (pad_top, pad_left) and whose y planes are out_h × out_w; kernel, stride and
// dilation are the convolution's.
detail::PlaneGeometry plane_of(const Conv2dGeometry& g, std::int64_t channels, std::int64_t height,
                               std::int64_t width, std::int64_t out_h, std::int64_t out_w,
                               std::int64_t pad_top, std::int64_t pad_left) {
  detail::PlaneGeometry q;
  q.channels = channels;
  q.height = height;
  q.width = width;
  q.out_h = out_h;
  q.out_w = out_w;
  q.kernel_h = g.kernel_h;
  q.kernel_w = g.kernel_w;
  q.stride_h = g.stride_h;
  q.stride_w = g.stride_w;
  q.pad_top = pad_top;
  q.pad_left = pad_left;
  q.dilation_h = g.dilation_h;
  q.dilation_w = g.dilation_w;
  return q;
}

}  // namespace

// The zero-padded convolution conv2d computes. With a non-zeros padding mode the input
// is padded explicitly first, so the problem sees the padded size and no padding.
ConvProblem conv2d_problem(const Conv2dGeometry& g) {
  const bool padded = has_explicit_padding(g);
  ConvProblem p;
  p.batch = g.batch;
  p.groups = g.groups;
  p.y_channels = g.out_channels;
  p.plane =
      padded ? plane_of(g, g.in_channels, g.in_h + g.pad_top + g.pad_bottom,
                        g.in_w + g.pad_left + g.pad_right, g.out_h, g.out_w, 0, 0)
             : plane_of(g, g.in_channels, g.in_h, g.in_w, g.out_h, g.out_w, g.pad_top, g.pad_left);
  return p;
}

// The convolution whose adjoint conv_transpose2d is: it maps the transposed conv's
// output [N, C_out, H_out, W_out] to its input [N, C_in, H, W] with the same weight
// ([C_in, C_out/g, kH, kW] is exactly a conv weight [C_y, C_x/g, kH, kW]), stride,
// padding, dilation and groups. Its output size is the transposed conv's input size,
// which can be one less than the conv formula gives when output_padding >= stride.
ConvProblem conv_transpose2d_problem(const Conv2dGeometry& g) {
  ConvProblem p;
  p.batch = g.batch;
  p.groups = g.groups;
  p.y_channels = g.in_channels;
  p.plane = plane_of(g, g.out_channels, g.out_h, g.out_w, g.in_h, g.in_w, g.pad_top, g.pad_left);
  return p;
}

namespace {

template <class T>
Shape shape_of(const Array<T>& a) {
  return Shape(a.shape().begin(), a.shape().end());
}

template <class T>
std::optional<Shape> optional_shape(const Array<T>* a) {
  if (!a) return std::nullopt;
  return shape_of(*a);
}

template <class T>
void check_grad_output(std::string_view op, const Array<T>& grad_output, const Shape& expected) {
  const Shape got = shape_of(grad_output);
  if (got != expected)
    throw std::invalid_argument(std::string(op) + ": expected grad_output of size " +
                                shape_str(expected) + ", but got grad_output of size " +
                                shape_str(got));
}

template <class T>
Array<T> new_array(const Shape& s) {
  return Array<T>::from_shape(s);
}

// x padded explicitly (reflect / replicate / circular) into [N, C, Hp, Wp].
Shape padded_shape(const Conv2dGeometry& g) {
  return {std::size_t(g.batch), std::size_t(g.in_channels),
          std::size_t(g.in_h + g.pad_top + g.pad_bottom),
          std::size_t(g.in_w + g.pad_left + g.pad_right)};
}

// The index maps of the explicit padding (one entry per padded row and column: built
// only when there is data to pad).
PadMaps padding_maps(const Conv2dGeometry& g) {
  return pad_maps(g.in_h, g.in_w, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, g.padding_mode);
}

template <class T>
Array<T> padded_input(const Conv2dGeometry& g, const T* x) {
  Array<T> xp = new_array<T>(padded_shape(g));
  if (xp.size() > 0)
    pad_planes(x, g.batch * g.in_channels, g.in_h, g.in_w, padding_maps(g), T(0), xp.data());
  return xp;
}

template <class T>
Array<T> bias_grad(std::string_view op, const Array<T>& dy) {
  const Shape s = shape_of(dy);
  if (s.size() != 3 && s.size() != 4)
    throw std::invalid_argument(
        std::string(op) +
        ": Expected 3D (unbatched) or 4D (batched) grad_output, but got grad_output of size: " +
        shape_str(s));
  const std::size_t off = s.size() - 3;
  const auto n = static_cast<std::int64_t>(s.size() == 4 ? s[0] : 1);
  Array<T> db = new_array<T>({s[off]});
  channel_sum(dy.data(), n, static_cast<std::int64_t>(s[off]),
              static_cast<std::int64_t>(s[off + 1] * s[off + 2]), db.data());
  return db;
}

// Spatial size of a transposed conv's grad_output, passed to the check as output_size.
template <class T>
std::vector<std::int64_t> grad_output_size(std::string_view op, const Array<T>& dy,
                                           const Shape& input_shape) {
  const Shape s = shape_of(dy);
  if (s.size() != input_shape.size() || (s.size() != 3 && s.size() != 4))
    throw std::invalid_argument(
        std::string(op) + ": expected grad_output with the rank of the input " +
        shape_str(input_shape) + ", but got grad_output of size " + shape_str(s));
  return {static_cast<std::int64_t>(s[s.size() - 2]), static_cast<std::int64_t>(s[s.size() - 1])};
}

}  // namespace

// ---- conv2d ----

template <class T>
Array<T> conv2d_forward(const Array<T>& input, const Array<T>& weight,
                        const std::type_identity_t<Array<T>>* bias, const Conv2dOptions& opts) {
  const Conv2dGeometry g =
      check_conv2d(shape_of(input), shape_of(weight), optional_shape(bias), opts, "conv2d");
  Array<T> out = new_array<T>(g.output_shape());
  const T* b = bias ? bias->data() : nullptr;
  if (has_explicit_padding(g)) {
    const Array<T> xp = padded_input(g, input.data());
    conv_forward(conv2d_problem(g), xp.data(), weight.data(), b, out.data());
  } else {
    conv_forward(conv2d_problem(g), input.data(), weight.data(), b, out.data());
  }
  return out;
}

template <class T>
Array<T> conv2d_backward_input(const Array<T>& grad_output, const Array<T>& weight,
                               const Shape& input_shape, const Conv2dOptions& opts) {
  constexpr std::string_view op = "conv2d_backward_input";
  const Conv2dGeometry g = check_conv2d(input_shape, shape_of(weight), std::nullopt, opts, op);
  check_grad_output(op, grad_output, g.output_shape());
  Array<T> dx = new_array<T>(input_shape);
  const ConvProblem p = conv2d_problem(g);
  if (!has_explicit_padding(g)) {
    conv_adjoint(p, grad_output.data(), weight.data(), dx.data(), true);
    return dx;
  }
  // dL/dx_padded, then fold each padded position's gradient onto the input element
  // it was copied from.
  Array<T> dxp = new_array<T>(padded_shape(g));
  conv_adjoint(p, grad_output.data(), weight.data(), dxp.data(), true);
  if (dx.size() > 0)
    fold_planes(dxp.data(), g.batch * g.in_channels, g.in_h, g.in_w, padding_maps(g), dx.data());
  return dx;
}

template <class T>
Array<T> conv2d_backward_weight(const Array<T>& grad_output, const Array<T>& input,
                                const Shape& weight_shape, const Conv2dOptions& opts) {
  constexpr std::string_view op = "conv2d_backward_weight";
  const Conv2dGeometry g = check_conv2d(shape_of(input), weight_shape, std::nullopt, opts, op);
  check_grad_output(op, grad_output, g.output_shape());
  Array<T> dw = new_array<T>(weight_shape);
  if (has_explicit_padding(g) && g.batch > 0) {
    const Array<T> xp = padded_input(g, input.data());
    conv_weight_grad(conv2d_problem(g), grad_output.data(), xp.data(), dw.data());
  } else {
    conv_weight_grad(conv2d_problem(g), grad_output.data(), input.data(), dw.data());
  }
  return dw;
}

template <class T>
Array<T> conv2d_backward_bias(const Array<T>& grad_output) {
  return bias_grad("conv2d_backward_bias", grad_output);
}

// ---- conv_transpose2d ----

template <class T>
Array<T> conv_transpose2d_forward(const Array<T>& input, const Array<T>& weight,
                                  const std::type_identity_t<Array<T>>* bias,
                                  const ConvTranspose2dOptions& opts,
                                  const std::optional<std::vector<std::int64_t>>& output_size) {
  const Conv2dGeometry g = check_conv_transpose2d(shape_of(input), shape_of(weight),
                                                  optional_shape(bias), opts, output_size);
  Array<T> out = new_array<T>(g.output_shape());
  // y = b + col2im(W_gᵀ · x_g): the adjoint of the conv y -> x.
  conv_adjoint(conv_transpose2d_problem(g), input.data(), weight.data(), out.data(), true,
               bias ? bias->data() : nullptr);
  return out;
}

template <class T>
Array<T> conv_transpose2d_backward_input(const Array<T>& grad_output, const Array<T>& weight,
                                         const Shape& input_shape,
                                         const ConvTranspose2dOptions& opts) {
  constexpr std::string_view op = "conv_transpose2d_backward_input";
  const Conv2dGeometry g = detail::check_conv_transpose2d_from_grad(
      input_shape, shape_of(weight), opts, grad_output_size(op, grad_output, input_shape), op);
  check_grad_output(op, grad_output, g.output_shape());
  Array<T> dx = new_array<T>(input_shape);
  // dx = conv2d(dY, W): im2col(dY) then W_g · cols_g.
  conv_forward(conv_transpose2d_problem(g), grad_output.data(), weight.data(),
               static_cast<const T*>(nullptr), dx.data());
  return dx;
}

template <class T>
Array<T> conv_transpose2d_backward_weight(const Array<T>& grad_output, const Array<T>& input,
                                          const Shape& weight_shape,
                                          const ConvTranspose2dOptions& opts) {
  constexpr std::string_view op = "conv_transpose2d_backward_weight";
  const Shape input_shape = shape_of(input);
  const Conv2dGeometry g = detail::check_conv_transpose2d_from_grad(
      input_shape, weight_shape, opts, grad_output_size(op, grad_output, input_shape), op);
  check_grad_output(op, grad_output, g.output_shape());
  Array<T> dw = new_array<T>(weight_shape);
  // dW_g [C_in/g, C_out/g·kH·kW] = x_g · im2col(dY)_gᵀ: the conv weight gradient with
  // the roles of input and output swapped.
  conv_weight_grad(conv_transpose2d_problem(g), input.data(), grad_output.data(), dw.data());
  return dw;
}

template <class T>
Array<T> conv_transpose2d_backward_bias(const Array<T>& grad_output) {
  return bias_grad("conv_transpose2d_backward_bias", grad_output);
}

// ---- explicit instantiations ----

#define TAPEGRAD_CONV_INSTANTIATE(T)                                                               \
  template Array<T> conv2d_forward<T>(const Array<T>&, const Array<T>&, const Array<T>*,           \
                                      const Conv2dOptions&);                                       \
  template Array<T> conv2d_backward_input<T>(const Array<T>&, const Array<T>&, const Shape&,       \
                                             const Conv2dOptions&);                                \
  template Array<T> conv2d_backward_weight<T>(const Array<T>&, const Array<T>&, const Shape&,      \
                                              const Conv2dOptions&);                               \
  template Array<T> conv2d_backward_bias<T>(const Array<T>&);                                      \
  template Array<T> conv_transpose2d_forward<T>(const Array<T>&, const Array<T>&, const Array<T>*, \
                                                const ConvTranspose2dOptions&,                     \
                                                const std::optional<std::vector<std::int64_t>>&);  \
  template Array<T> conv_transpose2d_backward_input<T>(                                            \
      const Array<T>&, const Array<T>&, const Shape&, const ConvTranspose2dOptions&);              \
  template Array<T> conv_transpose2d_backward_weight<T>(                                           \
      const Array<T>&, const Array<T>&, const Shape&, const ConvTranspose2dOptions&);              \
  template Array<T> conv_transpose2d_backward_bias<T>(const Array<T>&);

TAPEGRAD_CONV_INSTANTIATE(float)
TAPEGRAD_CONV_INSTANTIATE(double)
#undef TAPEGRAD_CONV_INSTANTIATE

}  // namespace tapegrad::kernels
