#pragma once
// Shared helpers of the parity tests (tests/parity_*.cpp): copies between xtensor
// arrays and torch tensors, error statistics of a result against a libtorch
// reference, and a table that collects the worst errors per quantity and dtype.
// libtorch is the reference only; nothing here is used by the library.
// Note: <torch/torch.h> brings glog's CHECK macro (abort, not a doctest assertion),
// so files including this header write DOCTEST_CHECK / DOCTEST_REQUIRE.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <tapegrad/core/allocator.hpp>
#include <type_traits>
#include <utility>
#include <vector>
#include <xtensor/xarray.hpp>

namespace tapegrad::parity {

/// The torch dtype of float / double.
template <class T>
torch::Dtype torch_dtype() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  return std::is_same_v<T, float> ? torch::kFloat : torch::kDouble;
}

/// "float32" / "float64".
template <class T>
const char* dtype_label() {
  return std::is_same_v<T, float> ? "float32" : "float64";
}

/// A new contiguous CPU tensor holding a copy of `a` (kFloat or kDouble).
template <class T>
torch::Tensor to_torch(const tapegrad::Array<T>& a) {
  const std::vector<std::int64_t> shape(a.shape().begin(), a.shape().end());
  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(torch_dtype<T>()));
  if (a.size() > 0) std::memcpy(t.data_ptr<T>(), a.data(), a.size() * sizeof(T));
  return t;
}

/// A copy of `t` (any dtype, layout or device; detached) as an xtensor array of T.
template <class T>
tapegrad::Array<T> to_xt(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kCPU, torch_dtype<T>()).contiguous();
  std::vector<std::size_t> shape(c.sizes().begin(), c.sizes().end());
  tapegrad::Array<T> a = tapegrad::Array<T>::from_shape(shape);
  if (a.size() > 0) std::memcpy(a.data(), c.data_ptr<T>(), a.size() * sizeof(T));
  return a;
}

/// Error of a result against a reference, computed in double.
struct ErrorStats {
  double max_abs = 0.0;    ///< max |got − ref|
  double mse = 0.0;        ///< mean (got − ref)²
  double mae = 0.0;        ///< mean |got − ref|
  double ref_scale = 0.0;  ///< max |ref|
  double rel = 0.0;        ///< max_abs / max(1e-30, ref_scale)
  bool same_shape = true;  ///< false: shapes differ and the errors are set to +inf
};

/// Compares `got` with `ref` element by element (ref is converted to double).
template <class T>
ErrorStats compare(const tapegrad::Array<T>& got, const torch::Tensor& ref) {
  ErrorStats s;
  const torch::Tensor r = ref.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const std::vector<std::int64_t> got_shape(got.shape().begin(), got.shape().end());
  if (got_shape != r.sizes().vec()) {
    s.same_shape = false;
    s.max_abs = s.mse = s.mae = s.rel = INFINITY;
    return s;
  }
  const double* rp = r.data_ptr<double>();
  const std::size_t n = got.size();
  for (std::size_t i = 0; i < n; ++i) {
    const double e = std::abs(static_cast<double>(got.data()[i]) - rp[i]);
    s.max_abs = std::max(s.max_abs, e);
    s.mse += e * e;
    s.mae += e;
    s.ref_scale = std::max(s.ref_scale, std::abs(rp[i]));
  }
  if (n > 0) {
    s.mse /= static_cast<double>(n);
    s.mae /= static_cast<double>(n);
  }
  s.rel = s.max_abs / std::max(1e-30, s.ref_scale);
  return s;
}

/// Collects ErrorStats per (quantity, dtype) and prints the worst of each as a
/// Markdown table, rows in the order they were first added.
class ParityTable {
 public:
  void add(const std::string& quantity, const std::string& dtype, const ErrorStats& s) {
    Row& r = row(quantity, dtype);
    ++r.configs;
    r.max_abs = std::max(r.max_abs, s.max_abs);
    r.mse = std::max(r.mse, s.mse);
    r.mae = std::max(r.mae, s.mae);
    r.rel = std::max(r.rel, s.rel);
  }

  /// Worst relative error recorded for (quantity, dtype), 0 if none.
  double worst_rel(const std::string& quantity, const std::string& dtype) const {
    for (const Row& r : rows_)
      if (r.quantity == quantity && r.dtype == dtype) return r.rel;
    return 0.0;
  }

  std::string str() const {
    std::ostringstream os;
    os << "| quantity | dtype | configs | worst max-abs | worst MSE | worst MAE | worst rel |\n"
       << "|---|---|---:|---:|---:|---:|---:|\n";
    os << std::scientific << std::setprecision(2);
    for (const Row& r : rows_)
      os << "| " << r.quantity << " | " << r.dtype << " | " << r.configs << " | " << r.max_abs
         << " | " << r.mse << " | " << r.mae << " | " << r.rel << " |\n";
    return os.str();
  }

  void print(std::ostream& os, const std::string& title) const {
    os << "\n" << title << "\n\n" << str() << std::flush;
  }

 private:
  struct Row {
    std::string quantity, dtype;
    std::size_t configs = 0;
    double max_abs = 0.0, mse = 0.0, mae = 0.0, rel = 0.0;
  };
  Row& row(const std::string& quantity, const std::string& dtype) {
    for (Row& r : rows_)
      if (r.quantity == quantity && r.dtype == dtype) return r;
    rows_.push_back(Row{quantity, dtype});
    return rows_.back();
  }
  std::vector<Row> rows_;
};

}  // namespace tapegrad::parity
