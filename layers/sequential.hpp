#pragma once
// Sequential: runs its children in order, each one's output the next one's input,
// as torch.nn.Sequential. Children are named "0", "1", ... so parameter names
// ("0.weight", "2.bias") match PyTorch's and checkpoints move between the two.
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <tapegrad/layers/module.hpp>
#include <vector>

namespace tapegrad {

/// A chain of modules: forward(x) = m_{n-1}(... m_1(m_0(x))).
///   Sequential net({std::make_shared<Linear>(4, 8, gen), std::make_shared<ReLU>(),
///                   std::make_shared<Linear>(8, 1, gen)});
class Sequential : public Module {
 public:
  /// An empty chain (forward is the identity until modules are added).
  Sequential() = default;
  /// The modules in order; a null entry throws std::invalid_argument.
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);

  /// Appends `module` under the next index as name.
  void push_back(std::shared_ptr<Module> module);

  /// Number of modules.
  std::size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  /// Module i; std::out_of_range naming the index and the size otherwise.
  const std::shared_ptr<Module>& operator[](std::size_t i) const;
  /// Module i as type M; std::invalid_argument if it is another type.
  template <class M>
  std::shared_ptr<M> at(std::size_t i) const {
    auto typed = std::dynamic_pointer_cast<M>((*this)[i]);
    if (!typed)
      throw std::invalid_argument("Sequential::at: module " + std::to_string(i) + " is a " +
                                  (*this)[i]->name() + ", not the requested type");
    return typed;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

  /// Applies the modules in order.
  Tensor forward(const Tensor& input) override;

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace tapegrad
