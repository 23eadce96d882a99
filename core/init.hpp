#pragma once
// Parameter initialisation with PyTorch's formulas (torch.nn.init), writing in
// place into a tensor's value. Every random initialiser takes the Generator
// explicitly: the same seed gives the same model, bit for bit, on every run.
#include <cstddef>
#include <optional>
#include <string>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad::init {

/// The nonlinearity a layer feeds, which sets the recommended gain.
enum class Nonlinearity {
  Linear,
  Conv1d,
  Conv2d,
  Conv3d,
  ConvTranspose1d,
  ConvTranspose2d,
  ConvTranspose3d,
  Sigmoid,
  Tanh,
  ReLU,
  LeakyReLU,
  SELU,
};

/// Parses PyTorch's spelling ("linear", "conv2d", "conv_transpose2d", "sigmoid",
/// "tanh", "relu", "leaky_relu", "selu"); throws std::invalid_argument otherwise.
Nonlinearity parse_nonlinearity(const std::string& name);

/// Which fan kaiming_* divides by: fan_in keeps the forward activations' variance,
/// fan_out the backward gradients'.
enum class FanMode { FanIn, FanOut };

/// Fan-in and fan-out of a weight.
struct Fans {
  std::size_t fan_in;
  std::size_t fan_out;
};

/// PyTorch's rule: for a weight [d0, d1, k...], fan_in = d1·Πk and fan_out = d0·Πk.
/// So a Linear weight [out, in] has fan_in = in; a Conv2d weight [C_out, C_in/g, kH, kW]
/// has fan_in = C_in/g·kH·kW; a ConvTranspose2d weight [C_in, C_out/g, kH, kW] has
/// fan_in = C_out/g·kH·kW (PyTorch's convention, kept for parity).
/// Throws std::invalid_argument for fewer than 2 dimensions.
Fans calculate_fan_in_and_fan_out(const Shape& shape);
Fans calculate_fan_in_and_fan_out(const Tensor& t);

/// Recommended gain: 1 for linear/conv/sigmoid, 5/3 for tanh, √2 for relu,
/// √(2/(1+slope²)) for leaky_relu (slope = param, default 0.01), 3/4 for selu.
double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param = std::nullopt);
/// As above with PyTorch's string names.
double calculate_gain(const std::string& nonlinearity, std::optional<double> param = std::nullopt);

/// Fills with `value`.
Tensor& constant_(Tensor& t, double value);
/// Fills with 0.
Tensor& zeros_(Tensor& t);
/// Fills with 1.
Tensor& ones_(Tensor& t);
/// Draws from U(a, b). Throws std::invalid_argument unless a <= b.
Tensor& uniform_(Tensor& t, Generator& gen, double a = 0.0, double b = 1.0);
/// Draws from N(mean, std²). Throws std::invalid_argument if std < 0.
Tensor& normal_(Tensor& t, Generator& gen, double mean = 0.0, double std = 1.0);

/// He et al. (2015), uniform: U(−bound, bound) with
/// bound = gain·√(3/fan), gain = calculate_gain(nonlinearity, a).
/// With the defaults (leaky_relu, a = 0) that is √(6/((1+a²)·fan_in)).
/// A tensor with a zero extent is left as is (PyTorch warns and does the same).
Tensor& kaiming_uniform_(Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                         Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);
/// He et al. (2015), normal: N(0, std²) with std = gain/√fan.
Tensor& kaiming_normal_(Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);
/// Glorot & Bengio (2010), uniform: U(−bound, bound), bound = gain·√(6/(fan_in+fan_out)).
Tensor& xavier_uniform_(Tensor& t, Generator& gen, double gain = 1.0);
/// Glorot & Bengio (2010), normal: N(0, std²), std = gain·√(2/(fan_in+fan_out)).
Tensor& xavier_normal_(Tensor& t, Generator& gen, double gain = 1.0);

}  // namespace tapegrad::init
