#include <tapegrad/optim/exponential_lr.hpp>

namespace tapegrad::optim {

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler("ExponentialLR", optimizer), gamma_(gamma) {}

double ExponentialLR::compute_lr() const { return optimizer_.lr() * gamma_; }

void ExponentialLR::save_options(NamedTensors& out) const {
  detail::put_scalar(out, "gamma", gamma_);
}

void ExponentialLR::load_options(detail::StateReader& in) { gamma_ = in.scalar("gamma"); }

}  // namespace tapegrad::optim
