#include <stdexcept>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/activation.hpp>
#include <tapegrad/layers/dropout.hpp>

namespace tapegrad {

namespace detail {

DropoutBase::DropoutBase(const char* layer, double p, std::shared_ptr<Generator> generator)
    : p_(p), generator_(std::move(generator)) {
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument(std::string(layer) +
                                ": dropout probability has to be between 0 and 1, but got " +
                                format_double(p));
  if (!generator_)
    throw std::invalid_argument(std::string(layer) + ": the generator must not be null");
}

std::string DropoutBase::extra_repr() const { return "p=" + format_double(p_); }

}  // namespace detail

Dropout::Dropout(double p, std::uint64_t seed)
    : DropoutBase("Dropout", p, std::make_shared<Generator>(seed)) {}
Dropout::Dropout(double p, std::shared_ptr<Generator> generator)
    : DropoutBase("Dropout", p, std::move(generator)) {}
Tensor Dropout::forward(const Tensor& input) {
  return dropout(input, p_, is_training(), *generator_);
}

Dropout2d::Dropout2d(double p, std::uint64_t seed)
    : DropoutBase("Dropout2d", p, std::make_shared<Generator>(seed)) {}
Dropout2d::Dropout2d(double p, std::shared_ptr<Generator> generator)
    : DropoutBase("Dropout2d", p, std::move(generator)) {}
Tensor Dropout2d::forward(const Tensor& input) {
  return dropout2d(input, p_, is_training(), *generator_);
}

}  // namespace tapegrad
