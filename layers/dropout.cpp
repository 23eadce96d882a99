#include <stdexcept>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/activation.hpp>
#include <tapegrad/layers/dropout.hpp>

namespace tapegrad {

namespace {

void check_p(const char* layer, double p) {
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument(std::string(layer) +
                                ": dropout probability has to be between 0 and 1, but got " +
                                detail::format_double(p));
}

std::shared_ptr<Generator> checked_generator(const char* layer, std::shared_ptr<Generator> g) {
  if (!g) throw std::invalid_argument(std::string(layer) + ": the generator must not be null");
  return g;
}

}  // namespace

Dropout::Dropout(double p, std::uint64_t seed)
    : p_(p), generator_(std::make_shared<Generator>(seed)) {
  check_p("Dropout", p);
}
Dropout::Dropout(double p, std::shared_ptr<Generator> generator)
    : p_(p), generator_(checked_generator("Dropout", std::move(generator))) {
  check_p("Dropout", p);
}
Tensor Dropout::forward(const Tensor& input) {
  return dropout(input, p_, is_training(), *generator_);
}
std::string Dropout::extra_repr() const { return "p=" + detail::format_double(p_); }

Dropout2d::Dropout2d(double p, std::uint64_t seed)
    : p_(p), generator_(std::make_shared<Generator>(seed)) {
  check_p("Dropout2d", p);
}
Dropout2d::Dropout2d(double p, std::shared_ptr<Generator> generator)
    : p_(p), generator_(checked_generator("Dropout2d", std::move(generator))) {
  check_p("Dropout2d", p);
}
Tensor Dropout2d::forward(const Tensor& input) {
  return dropout2d(input, p_, is_training(), *generator_);
}
std::string Dropout2d::extra_repr() const { return "p=" + detail::format_double(p_); }

}  // namespace tapegrad
