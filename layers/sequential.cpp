#include <tapegrad/layers/sequential.hpp>

namespace tapegrad {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) push_back(m);
}

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(std::shared_ptr<Module> module) {
  if (!module)
    throw std::invalid_argument("Sequential::push_back: module " + std::to_string(modules_.size()) +
                                " is null");
  add_child(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

const std::shared_ptr<Module>& Sequential::operator[](std::size_t i) const {
  if (i >= modules_.size())
    throw std::out_of_range("Sequential: index " + std::to_string(i) +
                            " is out of range for a Sequential of size " +
                            std::to_string(modules_.size()));
  return modules_[i];
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& m : modules_) x = m->forward(x);
  return x;
}

}  // namespace tapegrad
