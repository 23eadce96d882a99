// The bad-input catalog: invalid calls across tensors, ops, convolutions, modules,
// optimizers and loaders, each with the exception type and the message it must give.
// Sizes at the edges of 64-bit arithmetic are here too: they must be rejected, naming
// the op and the values, never wrap around.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <tapegrad/tapegrad.hpp>
#include <vector>

using namespace tapegrad;
namespace fs = std::filesystem;

namespace {

enum class Kind { InvalidArgument, IoError, OutOfMemory, OutOfRange };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::InvalidArgument:
      return "std::invalid_argument";
    case Kind::IoError:
      return "tapegrad::io::IoError";
    case Kind::OutOfMemory:
      return "tapegrad::OutOfMemory";
    case Kind::OutOfRange:
      return "std::out_of_range";
  }
  return "?";
}

struct Case {
  std::string what;
  std::function<void()> call;
  Kind kind;
  std::string message;  // a substring the message must contain
};

constexpr std::int64_t kBig = std::int64_t(1) << 62;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

Tensor t2x3() { return Tensor::ones({2, 3}); }
Tensor img(std::size_t n = 1, std::size_t c = 3, std::size_t h = 5, std::size_t w = 5) {
  return Tensor::ones({n, c, h, w});
}
Tensor weight(std::size_t o = 4, std::size_t i = 3, std::size_t k = 3) {
  return Tensor::ones({o, i, k, k});
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::path(TAPEGRAD_BINARY_DIR) / "test_bad_inputs";
  fs::create_directories(dir);
  return dir / name;
}

fs::path file_with(const std::string& name, const std::string& bytes) {
  const fs::path p = scratch(name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::vector<Case> catalog() {
  using K = Kind;
  const Conv2dOptions c;
  std::vector<Case> v = {
      // ---- tensors ----
      {"zeros with a product beyond 2^64",
       [] {
         Tensor::zeros({std::size_t(-2), std::size_t(-2)});
       },
       K::InvalidArgument, "zeros: the shape [18446744073709551614, 18446744073709551614]"},
      {"zeros with 2^62 x 2^62",
       [] {
         Tensor::zeros({std::size_t(1) << 62, std::size_t(1) << 62});
       },
       K::InvalidArgument, "no tensor that large can be stored"},
      {"ones with a size that is a negative number", [] { Tensor::ones({std::size_t(-1)}); },
       K::InvalidArgument, "ones: the shape [18446744073709551615] has more than 2^48"},
      {"empty beyond 2^48 elements", [] { Tensor::empty({std::size_t(1) << 49}); },
       K::InvalidArgument, "empty: the shape [562949953421312] has more than 2^48"},
      {"rand beyond 2^48 elements",
       [] {
         Generator g;
         Tensor::rand({std::size_t(1) << 30, std::size_t(1) << 30}, g);
       },
       K::InvalidArgument, "rand: the shape [1073741824, 1073741824]"},
      {"arange with a NaN bound", [] { Tensor::arange(0, std::nan("")); }, K::InvalidArgument,
       "arange: unsupported range"},
      {"arange with an infinite bound", [] { Tensor::arange(0, INFINITY); }, K::InvalidArgument,
       "arange: unsupported range"},
      {"arange with a NaN step", [] { Tensor::arange(0, 1, std::nan("")); }, K::InvalidArgument,
       "arange: unsupported range"},
      {"arange with 1e300 elements", [] { Tensor::arange(0, 1e300); }, K::InvalidArgument,
       "arange: unsupported range: it would hold"},
      {"arange with a zero step", [] { Tensor::arange(0, 1, 0); }, K::InvalidArgument,
       "arange: step must be nonzero"},
      {"arange with the wrong step sign", [] { Tensor::arange(0, 5, -1); }, K::InvalidArgument,
       "upper bound and larger bound inconsistent with step sign"},
      {"item of a 6-element tensor", [] { t2x3().item(); }, K::InvalidArgument,
       "item: a Tensor with 6 elements cannot be converted to Scalar"},
      {"value with the wrong dtype", [] { t2x3().cvalue<double>(); }, K::InvalidArgument,
       "value: expected a tensor of dtype float64, but got float32"},
      {"shape of an undefined tensor", [] { Tensor().shape(); }, K::InvalidArgument,
       "shape: called on an undefined tensor"},
      {"size out of range", [] { t2x3().size(2); }, K::InvalidArgument,
       "size: dimension out of range (expected to be in range of [-2, 1], but got 2)"},
      {"retain_grad without requires_grad", [] { t2x3().retain_grad(); }, K::InvalidArgument,
       "can't retain_grad on a tensor that has requires_grad=False"},
      {"requires_grad_(false) on a non-leaf",
       [] {
         Tensor w = Tensor::ones({2}, Dtype::Float32, true);
         (w * 2.0).requires_grad_(false);
       },
       K::InvalidArgument, "you can only change requires_grad flags of leaf variables"},
      {"set_grad of another shape",
       [] {
         Tensor w = Tensor::ones({2}, Dtype::Float32, true);
         w.set_grad(Tensor::ones({3}));
       },
       K::InvalidArgument, "set_grad: assigned grad has data of a different size or type"},
      {"set_grad of another dtype",
       [] {
         Tensor w = Tensor::ones({2}, Dtype::Float32, true);
         w.set_grad(Tensor::ones({2}, Dtype::Float64));
       },
       K::InvalidArgument, "expected float32 [2], got float64 [2]"},
      {"set_data on a non-leaf",
       [] {
         Tensor w = Tensor::ones({2}, Dtype::Float32, true);
         (w * 2.0).set_data(w);
       },
       K::InvalidArgument, "set_data: only leaf tensors"},
      // ---- autograd ----
      {"backward of a tensor without grad", [] { sum(t2x3()).backward(); }, K::InvalidArgument,
       "does not require grad and does not have a grad_fn"},
      {"backward of a non-scalar without a seed",
       [] { (Tensor::ones({2}, Dtype::Float32, true) * 2.0).backward(); }, K::InvalidArgument,
       "grad can be implicitly created only for scalar outputs"},
      {"backward with a seed of another shape",
       [] { (Tensor::ones({2}, Dtype::Float32, true) * 2.0).backward(Tensor::ones({3})); },
       K::InvalidArgument,
       "Mismatch in shape: grad_output[0] has a shape of [3] and output[0] has a shape of [2]"},
      {"backward with a seed of another dtype",
       [] {
         (Tensor::ones({2}, Dtype::Float32, true) * 2.0)
             .backward(Tensor::ones({2}, Dtype::Float64));
       },
       K::InvalidArgument, "seed gradient has dtype float64 but the tensor has dtype float32"},
      {"second backward through a freed graph",
       [] {
         Tensor w = Tensor::ones({2}, Dtype::Float32, true);
         Tensor l = sum(exp(w));
         l.backward();
         l.backward();
       },
       K::InvalidArgument, "sum: Trying to backward through the graph a second time"},
      {"grad with respect to a tensor that does not require grad",
       [] {
         Tensor w = Tensor::ones({2}, Dtype::Float32, true);
         grad({sum(w)}, {Tensor::ones({2})});
       },
       K::InvalidArgument,
       "grad: One of the differentiated Tensors (input 0) does not require grad"},
      {"grad with respect to an unused tensor",
       [] {
         Tensor w = Tensor::ones({2}, Dtype::Float32, true),
                u = Tensor::ones({2}, Dtype::Float32, true);
         grad({sum(w)}, {u});
       },
       K::InvalidArgument, "appears to not have been used in the graph. Set allow_unused=True"},
      {"grad with too many grad_outputs",
       [] {
         Tensor w = Tensor::ones({2}, Dtype::Float32, true);
         grad({sum(w)}, {w}, {Tensor::ones({}), Tensor::ones({})});
       },
       K::InvalidArgument, "grad: grad_outputs has 2 tensors but outputs has 1"},
      {"modified saved tensor",
       [] {
         Tensor w = Tensor::ones({2}, Dtype::Float64, true);
         Tensor l = sum(w * w);
         w.value<double>()(0) = 5;
         l.backward();
       },
       K::InvalidArgument,
       "mul: one of the variables needed for gradient computation has been modified by an inplace "
       "operation: [float64 tensor of shape [2]]"},
      {"gradcheck with float32 inputs",
       [] {
         gradcheck([](const std::vector<Tensor>& i) { return i[0] * 2.0; },
                   {Tensor::ones({2}, Dtype::Float32, true)});
       },
       K::InvalidArgument, "gradcheck: input 0 requires grad but has dtype float32"},
      // ---- element-wise, broadcasting, reductions, shapes ----
      {"add of unbroadcastable shapes",
       [] {
         add(t2x3(), Tensor::ones({4, 5}));
       },
       K::InvalidArgument,
       "add: The size of tensor a (3) must match the size of tensor b (5) at non-singleton "
       "dimension 1"},
      {"mul of float32 and float64",
       [] {
         mul(t2x3(), Tensor::ones({2, 3}, Dtype::Float64));
       },
       K::InvalidArgument,
       "mul: expected both operands to have the same dtype, but got float32 and float64"},
      {"sub with an undefined operand", [] { sub(t2x3(), Tensor()); }, K::InvalidArgument,
       "sub: second operand is an undefined tensor"},
      {"clamp with min > max", [] { clamp(t2x3(), 1.0, 0.0); }, K::InvalidArgument,
       "clamp: min (1.000000) must not be greater than max (0.000000)"},
      {"clamp with a NaN bound", [] { clamp_min(t2x3(), std::nan("")); }, K::InvalidArgument,
       "clamp_min: a bound is NaN"},
      {"sum over a dim out of range", [] { sum(t2x3(), {2}); }, K::InvalidArgument,
       "sum: dimension out of range (expected to be in range of [-2, 1], but got 2)"},
      {"sum over a repeated dim",
       [] {
         sum(t2x3(), {1, -1});
       },
       K::InvalidArgument, "sum: dim 1 appears multiple times in the list of dims [1, -1]"},
      {"mean over a dim out of range", [] { mean(t2x3(), {-3}); }, K::InvalidArgument,
       "mean: dimension out of range"},
      {"reshape to the wrong size",
       [] {
         reshape(t2x3(), {4, 2});
       },
       K::InvalidArgument, "reshape: shape [4, 2] is invalid for input of size 6"},
      {"reshape whose product wraps",
       [] {
         reshape(Tensor::ones({4}), {kBig + 1, 4});
       },
       K::InvalidArgument,
       "reshape: shape [4611686018427387905, 4] is invalid for input of size 4"},
      {"reshape with two -1",
       [] {
         reshape(t2x3(), {-1, -1});
       },
       K::InvalidArgument, "reshape: only one dimension can be inferred in shape [-1, -1]"},
      {"reshape with a negative size",
       [] {
         reshape(t2x3(), {-2, 3});
       },
       K::InvalidArgument, "reshape: invalid shape dimension -2 in shape [-2, 3]"},
      {"reshape of zero elements with -1",
       [] {
         reshape(Tensor::ones({0, 3}), {0, -1});
       },
       K::InvalidArgument, "reshape: shape [0, -1] is invalid for input of size 0"},
      {"permute with a repeated dim",
       [] {
         permute(t2x3(), {0, 0});
       },
       K::InvalidArgument, "permute: repeated dim in permute [0, 0]"},
      {"permute with too few dims", [] { permute(t2x3(), {0}); }, K::InvalidArgument,
       "permute: number of dims don't match in permute (input has 2 dims, dims has 1: [0])"},
      {"transpose out of range", [] { transpose(t2x3(), 0, 5); }, K::InvalidArgument,
       "transpose: dimension out of range"},
      {"flatten with start after end", [] { flatten(img(), 2, 1); }, K::InvalidArgument,
       "flatten: start_dim (2) cannot come after end_dim (1)"},
      {"unsqueeze out of range", [] { unsqueeze(t2x3(), 4); }, K::InvalidArgument,
       "unsqueeze: dimension out of range (expected to be in range of [-3, 2], but got 4)"},
      {"expand to a smaller shape", [] { expand(t2x3(), {3}); }, K::InvalidArgument,
       "expand: the shape [2, 3] cannot be expanded to [3]"},
      {"sum_to an incompatible shape", [] { sum_to(t2x3(), {4}); }, K::InvalidArgument,
       "sum_to: shape [2, 3] is not expandable from [4]"},
      {"matmul of 0-d tensors", [] { matmul(Tensor::ones({}), t2x3()); }, K::InvalidArgument,
       "matmul: both arguments need to be at least 1D, but they are 0D and 2D"},
      {"matmul of mismatched inner sizes", [] { matmul(t2x3(), t2x3()); }, K::InvalidArgument,
       "matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"},
      {"matmul of vectors of different lengths",
       [] { matmul(Tensor::ones({3}), Tensor::ones({4})); }, K::InvalidArgument,
       "matmul: inconsistent tensor size, expected tensor [3] and src [4]"},
      {"matmul of unbroadcastable batches",
       [] {
         matmul(Tensor::ones({2, 3, 4}), Tensor::ones({3, 4, 2}));
       },
       K::InvalidArgument, "matmul: The size of tensor a (2) must match the size of tensor b (3)"},
      {"pad with 3 amounts",
       [] {
         pad(t2x3(), {1, 1, 1});
       },
       K::InvalidArgument, "pad: Padding length must be 2 or 4"},
      {"reflect pad as large as the input",
       [] {
         pad(img(), {5, 0}, PaddingMode::Reflect);
       },
       K::InvalidArgument,
       "pad: Padding size should be less than the corresponding input dimension"},
      {"circular pad wrapping twice",
       [] {
         pad(img(), {6, 0}, PaddingMode::Circular);
       },
       K::InvalidArgument, "pad: Padding value causes wrapping around more than once"},
      {"crop to a negative size",
       [] {
         pad(img(), {-3, -3});
       },
       K::InvalidArgument,
       "pad: The input size 5, plus negative padding -3 and -3 resulted in a negative output size"},
      {"pad whose size overflows",
       [] {
         pad(img(), {kMax, 1});
       },
       K::InvalidArgument, "pad: size overflows"},
      // ---- losses ----
      {"mse_loss of unbroadcastable shapes", [] { mse_loss(t2x3(), Tensor::ones({4})); },
       K::InvalidArgument,
       "mse_loss: The size of tensor a (3) must match the size of tensor b (4)"},
      {"binary_cross_entropy with values above 1",
       [] { binary_cross_entropy(t2x3() * 2.0, t2x3()); }, K::InvalidArgument,
       "binary_cross_entropy: all elements of input should be between 0 and 1"},
      {"binary_cross_entropy of different sizes",
       [] { binary_cross_entropy(t2x3(), Tensor::ones({3})); }, K::InvalidArgument,
       "Using a target size ([3]) that is different to the input size ([2, 3])"},
      {"bce with logits of different sizes",
       [] { binary_cross_entropy_with_logits(t2x3(), Tensor::ones({6})); }, K::InvalidArgument,
       "binary_cross_entropy_with_logits: Using a target size ([6])"},
      {"unknown reduction", [] { parse_reduction("avg"); }, K::InvalidArgument,
       "reduction: avg is not a valid value for reduction"},
      // ---- convolutions ----
      {"conv2d with a 2-D input", [] { conv2d(t2x3(), weight()); }, K::InvalidArgument,
       "conv2d: Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: "
       "[2, "
       "3]"},
      {"conv2d with a 3-D weight",
       [] {
         conv2d(img(), Tensor::ones({4, 3, 3}));
       },
       K::InvalidArgument,
       "conv2d: Expected 3-dimensional input for 3-dimensional weight [4, 3, 3], but got "
       "4-dimensional input of size [1, 3, 5, 5] instead"},
      {"conv2d with the wrong channel count",
       [] {
         conv2d(img(1, 4), Tensor::ones({6, 2, 3, 3}), {}, Conv2dOptions{}.groups(3));
       },
       K::InvalidArgument,
       "conv2d: Given groups=3, weight of size [6, 2, 3, 3], expected input[1, 4, 5, 5] to have 6 "
       "channels, but got 4 channels instead"},
      {"conv2d with out channels not divisible by groups",
       [] {
         conv2d(img(1, 4), Tensor::ones({5, 2, 3, 3}), {}, Conv2dOptions{}.groups(2));
       },
       K::InvalidArgument, "expected weight to be divisible by 2 at dimension 0"},
      {"conv2d with a bias of the wrong size", [] { conv2d(img(), weight(), Tensor::ones({5})); },
       K::InvalidArgument,
       "expected bias to be 1-dimensional with 4 elements, but got bias of size [5] instead"},
      {"conv2d with a zero stride", [] { conv2d(img(), weight(), {}, Conv2dOptions{}.stride(0)); },
       K::InvalidArgument, "conv2d: non-positive stride is not supported, but got stride=[0]"},
      {"conv2d with a negative padding",
       [] { conv2d(img(), weight(), {}, Conv2dOptions{}.padding(-1)); }, K::InvalidArgument,
       "conv2d: negative padding is not supported, but got padding=[-1]"},
      {"conv2d with a zero dilation",
       [] {
         conv2d(img(), weight(), {}, Conv2dOptions{}.dilation({1, 0}));
       },
       K::InvalidArgument, "conv2d: dilation should be greater than zero, but got dilation=[1, 0]"},
      {"conv2d with zero groups", [] { conv2d(img(), weight(), {}, Conv2dOptions{}.groups(0)); },
       K::InvalidArgument, "conv2d: non-positive groups is not supported, but got groups=0"},
      {"conv2d with three strides",
       [] {
         conv2d(img(), weight(), {}, Conv2dOptions{}.stride({1, 1, 1}));
       },
       K::InvalidArgument, "expected stride to be a single integer value or a list of 2 values"},
      {"conv2d same with stride 2",
       [] { conv2d(img(), weight(), {}, Conv2dOptions{}.padding("same").stride(2)); },
       K::InvalidArgument, "padding='same' is not supported for strided convolutions"},
      {"conv2d with a kernel larger than the input", [] { conv2d(img(1, 3, 2, 2), weight()); },
       K::InvalidArgument,
       "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't "
       "be greater than actual input size"},
      {"conv2d with reflect padding as large as the input",
       [] {
         conv2d(img(1, 3, 3, 3), weight(), {}, Conv2dOptions{}.padding(3).padding_mode("reflect"));
       },
       K::InvalidArgument,
       "padding_mode='reflect': Padding size should be less than the corresponding input "
       "dimension"},
      {"conv2d with dtypes that differ",
       [] {
         conv2d(img(), Tensor::ones({4, 3, 3, 3}, Dtype::Float64));
       },
       K::InvalidArgument,
       "conv2d: Input type (float32) and weight type (float64) should be the same"},
      {"conv2d with dilation 2^61",
       [] {
         conv2d(img(), Tensor::ones({4, 3, 5, 5}), {},
                Conv2dOptions{}.dilation(std::int64_t(1) << 61));
       },
       K::InvalidArgument,
       "conv2d: dilation * (kernel_size - 1) overflows: 2305843009213693952 * 4 does not fit in 64 "
       "bits"},
      {"conv2d with padding near int64's limit",
       [] { conv2d(img(), weight(), {}, Conv2dOptions{}.padding(kMax / 2)); }, K::InvalidArgument,
       "conv2d: padded height overflows"},
      {"conv2d with padding 2^31 - 1",
       [] {
         conv2d(img(1, 1, 1, 1), Tensor::ones({1, 1, 1, 1}), {},
                Conv2dOptions{}.padding((std::int64_t(1) << 31) - 1));
       },
       K::InvalidArgument, "conv2d: the shape [1, 1, 4294967295, 4294967295] has more than 2^48"},
      {"conv2d with an unknown padding string", [] { Conv2dOptions{}.padding("full"); },
       K::InvalidArgument,
       "conv2d: Invalid padding string 'full', should be one of 'valid' or 'same'"},
      {"conv2d with an unknown padding mode", [] { Conv2dOptions{}.padding_mode("mirror"); },
       K::InvalidArgument,
       "padding_mode must be one of 'zeros', 'reflect', 'replicate' or 'circular', but got "
       "padding_mode='mirror'"},
      {"conv_transpose2d with the wrong channel count",
       [] {
         conv_transpose2d(img(1, 2), Tensor::ones({3, 4, 3, 3}));
       },
       K::InvalidArgument,
       "conv_transpose2d: Given transposed=1, weight of size [3, 4, 3, 3], expected input[1, 2, 5, "
       "5] to have 3 channels, but got 2 channels instead"},
      {"conv_transpose2d with output_padding >= stride and dilation",
       [] {
         conv_transpose2d(img(), weight(3, 4), {},
                          ConvTranspose2dOptions{}.stride(2).output_padding(2));
       },
       K::InvalidArgument, "output padding must be smaller than either stride or dilation"},
      {"conv_transpose2d with reflect padding",
       [] {
         conv_transpose2d(img(), weight(3, 4), {},
                          ConvTranspose2dOptions{}.padding_mode("reflect"));
       },
       K::InvalidArgument, "Only 'zeros' padding mode is supported for conv_transpose2d"},
      {"conv_transpose2d with an output_size out of range",
       [] {
         conv_transpose2d(img(), weight(3, 4), {}, ConvTranspose2dOptions{}.stride(2),
                          std::vector<std::int64_t>{20, 20});
       },
       K::InvalidArgument,
       "requested an output size of [20, 20], but valid sizes range from [11, 11] to [12, 12]"},
      {"conv_transpose2d with an output_size of 3 values for 4-D input",
       [] {
         conv_transpose2d(img(), weight(3, 4), {}, ConvTranspose2dOptions{},
                          std::vector<std::int64_t>{1, 7, 7});
       },
       K::InvalidArgument, "for 4D input, output_size must have 2 or 4 elements (got 3)"},
      {"conv_transpose2d whose output is empty",
       [] {
         conv_transpose2d(img(1, 3, 1, 1), weight(3, 4, 1), {},
                          ConvTranspose2dOptions{}.padding(1));
       },
       K::InvalidArgument,
       "Calculated output size per channel: (-1 x -1). Output size is too small"},
      {"conv_transpose2d with stride 2^62",
       [] {
         conv_transpose2d(img(1, 3, 5, 5), weight(3, 3), {}, ConvTranspose2dOptions{}.stride(kBig));
       },
       K::InvalidArgument,
       "conv_transpose2d: (input height - 1) * stride overflows: 4 * 4611686018427387904 does not "
       "fit in 64 bits"},
      {"conv2d kernel backward with a wrong grad_output",
       [] {
         kernels::conv2d_backward_input(Array<float>(xt::ones<float>({1, 4, 4, 4})),
                                        Array<float>(xt::ones<float>({4, 3, 3, 3})),
                                        Shape{1, 3, 5, 5});
       },
       K::InvalidArgument,
       "conv2d_backward_input: expected grad_output of size [1, 4, 3, 3], but got grad_output of "
       "size [1, 4, 4, 4]"},
      {"im2col of a 2-D array",
       [] {
         kernels::im2col(Array<float>(xt::ones<float>({3, 3})), {});
       },
       K::InvalidArgument, "im2col: expected a 3D [C, H, W] or 4D [N, C, H, W] input shape"},
      // ---- modules ----
      {"Conv2d with a kernel of 2^31", [] { Conv2d(3, 4, std::int64_t(1) << 31); },
       K::InvalidArgument, "Conv2d: the shape [4, 3, 2147483648, 2147483648] has more than 2^48"},
      {"Conv2d with negative in_channels", [] { Conv2d(-1, 4, 3); }, K::InvalidArgument,
       "Conv2d: in_channels and out_channels must be non-negative, got in_channels=-1, "
       "out_channels=4"},
      {"Conv2d with channels not divisible by groups",
       [] { Conv2d(3, 4, 3, Conv2dOptions{}.groups(2)); }, K::InvalidArgument,
       "Conv2d: in_channels must be divisible by groups (in_channels=3, groups=2)"},
      {"Conv2d with a zero kernel",
       [] {
         Conv2d(3, 4, {3, 0});
       },
       K::InvalidArgument, "Conv2d: kernel_size must be positive, got (3, 0)"},
      {"Conv2d same with stride 2",
       [] { Conv2d(3, 4, 3, Conv2dOptions{}.padding("same").stride(2)); }, K::InvalidArgument,
       "Conv2d: padding='same' is not supported for strided convolutions"},
      {"ConvTranspose2d with reflect padding",
       [] { ConvTranspose2d(3, 4, 3, ConvTranspose2dOptions{}.padding_mode("reflect")); },
       K::InvalidArgument, "ConvTranspose2d: Only \"zeros\" padding mode is supported"},
      {"Linear with the wrong input width",
       [] {
         Linear l(4, 2);
         l(t2x3());
       },
       K::InvalidArgument, "Linear"},
      {"Module::register_parameter with a dotted name",
       [] {
         Module m;
         m.register_parameter("a.b", Tensor::ones({1}));
       },
       K::InvalidArgument, "register_parameter: name \"a.b\""},
      {"Module::register_parameter twice",
       [] {
         Module m;
         m.register_parameter("w", Tensor::ones({1}));
         m.register_parameter("w", Tensor::ones({1}));
       },
       K::InvalidArgument, "register_parameter: name \"w\""},
      {"strict load of a state dict with a wrong shape",
       [] {
         Linear l(2, 2);
         l.load_state_dict({{"weight", Tensor::ones({3, 3})}, {"bias", Tensor::ones({2})}});
       },
       K::InvalidArgument,
       "size mismatch for \"weight\": the source has shape [3, 3], the module has shape [2, 2]"},
      {"strict load of a state dict with a missing key",
       [] {
         Linear l(2, 2);
         l.load_state_dict({{"weight", Tensor::ones({2, 2})}});
       },
       K::InvalidArgument,
       "Linear::load_state_dict: error(s) loading the state dict:\nmissing key(s): \"bias\""},
      {"Unflatten with two -1",
       [] {
         Unflatten(1, {-1, -1});
       },
       K::InvalidArgument, "Unflatten: only one size may be -1, got [-1, -1]"},
      // ---- optimizers and schedulers ----
      {"SGD with a negative learning rate",
       [] {
         Tensor w = Tensor::ones({1}, Dtype::Float32, true);
         optim::SGD({w}, {.lr = -1});
       },
       K::InvalidArgument, "SGD: Invalid learning rate: -1"},
      {"SGD with a parameter twice",
       [] {
         Tensor w = Tensor::ones({1}, Dtype::Float32, true);
         optim::SGD({w, w}, {.lr = 0.1});
       },
       K::InvalidArgument, "is the same tensor as parameter 0"},
      {"SGD with a parameter that does not require grad",
       [] { optim::SGD({Tensor::ones({1})}, {.lr = 0.1}); }, K::InvalidArgument, "SGD"},
      {"Adam with beta1 = 1",
       [] {
         Tensor w = Tensor::ones({1}, Dtype::Float32, true);
         optim::Adam({w}, {.lr = 0.1, .betas = {1.0, 0.9}});
       },
       K::InvalidArgument, "Adam: Invalid beta parameter at index 0: 1"},
      {"Adam with a negative eps",
       [] {
         Tensor w = Tensor::ones({1}, Dtype::Float32, true);
         optim::Adam({w}, {.lr = 0.1, .eps = -1});
       },
       K::InvalidArgument, "Adam: Invalid epsilon value: -1"},
      {"Adam load_state_dict with a missing key",
       [] {
         Tensor w = Tensor::ones({1}, Dtype::Float32, true);
         optim::Adam a({w}, {.lr = 0.1});
         a.load_state_dict({});
       },
       K::InvalidArgument, "Adam.load_state_dict"},
      {"set_lr to NaN",
       [] {
         Tensor w = Tensor::ones({1}, Dtype::Float32, true);
         optim::SGD s({w}, {.lr = 0.1});
         s.set_lr(std::nan(""));
       },
       K::InvalidArgument, "SGD: Invalid learning rate: nan"},
      // ---- checkpoints, files, data ----
      {"save_checkpoint with a repeated key",
       [] {
         save_checkpoint(scratch("dup.npz"), {{"a", Tensor::ones({1})}, {"a", Tensor::ones({1})}});
       },
       K::InvalidArgument, "save_checkpoint: key \"a\" appears more than once"},
      {"save_checkpoint with an empty key",
       [] {
         save_checkpoint(scratch("empty_key.npz"), {{"", Tensor::ones({1})}});
       },
       K::InvalidArgument, "save_checkpoint: empty key"},
      {"save_checkpoint of an undefined tensor",
       [] {
         save_checkpoint(scratch("undef.npz"), {{"a", Tensor()}});
       },
       K::InvalidArgument, "save_checkpoint: tensor \"a\" is undefined"},
      {"load_checkpoint of a missing file", [] { load_checkpoint(scratch("no_such.npz")); },
       K::IoError, "no_such.npz: cannot open"},
      {"load_checkpoint of a text file",
       [] { load_checkpoint(file_with("text.npz", "not a zip archive at all")); }, K::IoError,
       "load_checkpoint"},
      {"load_checkpoint of a truncated archive",
       [] {
         save_checkpoint(scratch("whole.npz"), {{"w", Tensor::ones({100})}});
         std::ifstream in(scratch("whole.npz"), std::ios::binary);
         std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
         load_checkpoint(file_with("cut.npz", bytes.substr(0, bytes.size() / 2)));
       },
       K::IoError, "cut.npz"},
      {"lookup of a missing key",
       [] {
         lookup({{"a", Tensor::ones({1})}}, "b");
       },
       K::OutOfRange, "lookup: no tensor named \"b\""},
      {"merge with a repeated key",
       [] {
         merge({{{"a", Tensor::ones({1})}}, {{"a", Tensor::ones({1})}}});
       },
       K::InvalidArgument, "merge: key \"a\" appears more than once"},
      {"read_idx of a missing file", [] { data::read_idx(scratch("missing.idx")); }, K::IoError,
       "missing.idx: cannot open"},
      {"read_idx with a bad magic",
       [] {
         data::read_idx(file_with("bad.idx", std::string("\x01\x02\x08\x01\x00\x00\x00\x01x", 9)));
       },
       K::IoError, "bad.idx"},
      {"read_idx of a truncated file",
       [] {
         data::read_idx(file_with("short.idx", std::string("\x00\x00\x08\x01\x00\x00\x00\x05"
                                                           "ab",
                                                           10)));
       },
       K::IoError, "truncated"},
      {"load_mnist from a missing folder",
       [] { data::load_mnist(scratch("no-mnist"), data::MnistSplit::Train); }, K::IoError,
       "no-mnist"},
      {"a PNG of a 3-D image",
       [] {
         data::encode_png_gray(Array<float>(xt::ones<float>({2, 2, 2})));
       },
       K::InvalidArgument,
       "encode_png_gray: expected a greyscale image [H, W], got shape [2, 2, 2]"},
      {"an image grid too small for the images",
       [] {
         data::image_grid(Array<float>(xt::ones<float>({5, 1, 2, 2})), 2, 2);
       },
       K::InvalidArgument, "image_grid"},
      {"writing into a folder under a file",
       [] {
         file_with("plain", "x");
         io::write_file_atomic(scratch("plain") / "f", std::span<const std::uint8_t>());
       },
       K::IoError, "cannot create temporary file"},
      {"an output folder under a file",
       [] {
         file_with("plain2", "x");
         io::ensure_writable_directory(scratch("plain2") / "out", "train --out");
       },
       K::IoError, "train --out:"},
      // ---- memory ----
      {"a tensor far larger than memory", [] { Tensor::zeros({std::size_t(1) << 45}); },
       K::OutOfMemory, "zeros: out of memory allocating 140737488355328 bytes"},
      {"a matmul whose result does not fit in memory",
       [] {
         matmul(Tensor::ones({std::size_t(1) << 22, 1}), Tensor::ones({1, std::size_t(1) << 22}));
       },
       K::OutOfMemory, "matmul: out of memory allocating 70368744177664 bytes"},
      {"a convolution whose output does not fit in memory",
       [] {
         conv2d(img(1, 1, 1, 1), Tensor::ones({1, 1, 1, 1}), {},
                Conv2dOptions{}.padding(std::int64_t(1) << 22));
       },
       K::OutOfMemory, "conv2d: out of memory allocating"},
  };
  return v;
}

}  // namespace

TEST_CASE("bad inputs: every call of the catalog is refused with its exception type and message") {
  const std::vector<Case> cases = catalog();
  std::size_t ok = 0;
  for (const Case& c : cases) {
    std::string got_type = "nothing", got_message;
    try {
      c.call();
    } catch (const io::IoError& e) {
      got_type = kind_name(Kind::IoError), got_message = e.what();
    } catch (const OutOfMemory& e) {
      got_type = kind_name(Kind::OutOfMemory), got_message = e.what();
    } catch (const std::invalid_argument& e) {
      got_type = kind_name(Kind::InvalidArgument), got_message = e.what();
    } catch (const std::out_of_range& e) {
      got_type = kind_name(Kind::OutOfRange), got_message = e.what();
    } catch (const std::exception& e) {
      got_type = std::string("other std::exception"), got_message = e.what();
    }
    const bool type_ok = got_type == kind_name(c.kind);
    const bool message_ok = got_message.find(c.message) != std::string::npos;
    INFO(c.what);
    INFO("threw " << got_type << ": " << got_message);
    INFO("expected " << std::string(kind_name(c.kind)) << " containing: " << c.message);
    CHECK(type_ok);
    CHECK(message_ok);
    ok += type_ok && message_ok;
  }
  MESSAGE(ok << " of " << cases.size() << " bad inputs refused with the expected type and message");
  CHECK(cases.size() >= 100);
}
