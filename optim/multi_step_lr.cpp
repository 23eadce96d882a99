#include <cmath>
#include <stdexcept>
#include <tapegrad/optim/multi_step_lr.hpp>
#include <xtensor/xarray.hpp>

namespace tapegrad::optim {

namespace {
std::map<std::int64_t, std::int64_t> count(const std::vector<std::int64_t>& milestones) {
  std::map<std::int64_t, std::int64_t> c;
  for (std::int64_t m : milestones) ++c[m];
  return c;
}
}  // namespace

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma)
    : LRScheduler("MultiStepLR", optimizer), milestones_(count(milestones)), gamma_(gamma) {}

double MultiStepLR::compute_lr() const {
  const double lr = optimizer_.lr();
  auto it = milestones_.find(last_epoch());
  if (it == milestones_.end()) return lr;
  // group['lr'] * gamma ** count, as Python evaluates it (float ** int is pow).
  return lr * std::pow(gamma_, static_cast<double>(it->second));
}

void MultiStepLR::save_options(NamedTensors& out) const {
  // The milestones with repetitions, sorted, as a 1-d float64 tensor, after their
  // count (so that loading knows the shape to expect).
  std::vector<double> flat;
  for (const auto& [m, k] : milestones_)
    for (std::int64_t i = 0; i < k; ++i) flat.push_back(static_cast<double>(m));
  detail::put_scalar(out, "milestones_count", static_cast<double>(flat.size()));
  xt::xarray<double> a = xt::zeros<double>({flat.size()});
  for (std::size_t i = 0; i < flat.size(); ++i) a(i) = flat[i];
  out.emplace_back("milestones", Tensor::from(a));
  detail::put_scalar(out, "gamma", gamma_);
}

void MultiStepLR::load_options(detail::StateReader& in) {
  const std::int64_t n = in.integer("milestones_count");
  if (n < 0) in.fail("key 'milestones_count' must be >= 0, got " + std::to_string(n));
  const Tensor& t = in.tensor("milestones", Shape{static_cast<std::size_t>(n)}, Dtype::Float64);
  std::vector<std::int64_t> ms;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    const double v = t.value<double>()(i);
    if (v != std::floor(v) || !(std::abs(v) <= 9007199254740992.0))
      in.fail("milestones must be whole numbers, got " + detail::format_number(v));
    ms.push_back(static_cast<std::int64_t>(v));
  }
  const double gamma = in.scalar("gamma");
  milestones_ = count(ms);
  gamma_ = gamma;
}

}  // namespace tapegrad::optim
