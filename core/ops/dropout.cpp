#include <charconv>
#include <stdexcept>
#include <string>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/dropout.hpp>

namespace tapegrad {

using detail::new_array;

namespace {

std::string number_str(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(v);
}

void check_p(const char* op, double p) {
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument(std::string(op) +
                                ": dropout probability has to be between 0 and 1, but got " +
                                number_str(p));
}

// out = input·mask, where mask holds 0 or 1/(1 − p) per group of `group` consecutive
// elements (1 for dropout, a channel plane for dropout2d). The mask is drawn in
// row-major group order, one uniform number per group, so a seed reproduces it.
Tensor masked(const char* op, const Tensor& input, double p, std::size_t group, Generator& gen) {
  Tensor mask = dispatch(input.dtype(), [&]<class T>() {
    Array<T> m = new_array<T>(op, input.shape());
    // PyTorch computes the scale in the tensor's dtype: noise.div_(1 - p).
    const T scale = p < 1.0 ? T(1) / static_cast<T>(1.0 - p) : T(0);
    T* pm = m.data();
    const std::size_t n = m.size();
    for (std::size_t start = 0; start < n; start += group) {
      const T v = gen.uniform() < 1.0 - p ? scale : T(0);
      for (std::size_t i = start; i < start + group; ++i) pm[i] = v;
    }
    return Tensor::from_array(std::move(m));
  });
  Tensor out;
  {
    NoGradGuard no_grad;  // one entry, recorded below
    out = mul(input, mask).detach();
  }
  // The mask is a constant of the closure: backward is grad·mask, a taped mul.
  return record(
      op, out, {input},
      [mask](const GradContext& ctx) { ctx.accumulate(0, mul(ctx.grad_output(), mask)); },
      Saved::none(), mask.numel() * (mask.dtype() == Dtype::Float32 ? 4 : 8));
}

}  // namespace

Tensor dropout(const Tensor& input, double p, bool training, Generator& gen) {
  constexpr const char* op = "dropout";
  check_defined(op, input);
  check_p(op, p);
  if (!training || p == 0.0 || input.numel() == 0) return input;
  return masked(op, input, p, 1, gen);
}

Tensor dropout2d(const Tensor& input, double p, bool training, Generator& gen) {
  constexpr const char* op = "dropout2d";
  check_defined(op, input);
  check_p(op, p);
  if (input.dim() < 2)
    throw std::invalid_argument(std::string(op) +
                                ": Feature dropout requires at least 2 dimensions in the input "
                                "(got " +
                                shape_str(input.shape()) + ")");
  if (!training || p == 0.0 || input.numel() == 0) return input;
  // A [C, H, W] input is one sample: its planes are [H, W]. Otherwise the planes are
  // everything after the batch and channel dimensions.
  const Shape s = input.shape();
  const std::size_t first = s.size() == 3 ? 1 : 2;
  std::size_t plane = 1;
  for (std::size_t i = first; i < s.size(); ++i) plane *= s[i];
  return masked(op, input, p, plane, gen);
}

}  // namespace tapegrad
