#pragma once
// A small timing harness for the benchmarks: warm-up, calibrated samples, medians,
// and pairwise interleaving so that two implementations see the same machine state
// (on a shared 2-core machine the load drifts; interleaving keeps the ratio honest
// even when the absolute times move). Also: thread setup shared by tapegrad and
// libtorch, and process memory readings from /proc.
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <tapegrad/core/blas/gemm.hpp>
#include <vector>

#ifndef TAPEGRAD_BENCH_NO_TORCH
#include <torch/torch.h>
#endif

namespace tapegrad::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Summary of the per-iteration times of one implementation on one case.
struct Stats {
  double median = 0;  ///< seconds per iteration
  double p25 = 0, p75 = 0;
  double min = 0;
  int samples = 0;  ///< number of timed samples
  int inner = 0;    ///< iterations per sample
  /// Interquartile range relative to the median: the noise of this measurement.
  double spread() const { return median > 0 ? (p75 - p25) / median : 0; }
};

/// Quantile q in [0, 1] of `v` (linear interpolation; v is sorted in place).
inline double quantile(std::vector<double>& v, double q) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const double pos = q * double(v.size() - 1);
  const std::size_t lo = std::size_t(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

inline Stats summarize(std::vector<double> per_iter, int inner) {
  Stats s;
  s.samples = int(per_iter.size());
  s.inner = inner;
  s.median = quantile(per_iter, 0.5);
  s.p25 = quantile(per_iter, 0.25);
  s.p75 = quantile(per_iter, 0.75);
  s.min = per_iter.empty() ? 0 : per_iter.front();
  return s;
}

/// How long and how often to measure.
struct TimingOptions {
  int repeats = 15;              ///< timed samples per implementation (the median is over these)
  double warmup_seconds = 0.15;  ///< minimum warm-up per implementation (at least 3 calls)
  double sample_seconds = 0.03;  ///< each sample repeats the call until it lasts about this long
};

/// Runs f until both `min_calls` calls and `min_seconds` have passed; returns the
/// mean seconds per call of the run.
inline double warm_up(const std::function<void()>& f, double min_seconds, int min_calls = 3) {
  const auto t0 = Clock::now();
  int calls = 0;
  do {
    f();
    ++calls;
  } while (calls < min_calls || seconds_since(t0) < min_seconds);
  return seconds_since(t0) / calls;
}

/// Times `a` and `b` (the same work done by two implementations), interleaved: sample r
/// of a and sample r of b run back to back, in alternating order. Each sample repeats
/// its call `inner` times, with inner chosen from the warm-up so a sample lasts about
/// opts.sample_seconds. Returns {stats of a, stats of b}, in seconds per call.
/// An empty std::function (a or b) is not timed and gets empty Stats (median 0).
inline std::pair<Stats, Stats> time_pair(const std::function<void()>& a,
                                         const std::function<void()>& b,
                                         const TimingOptions& opts) {
  const double ta = a ? warm_up(a, opts.warmup_seconds) : 1.0;
  const double tb = b ? warm_up(b, opts.warmup_seconds) : 1.0;
  const int inner_a = std::max(1, int(std::lround(opts.sample_seconds / std::max(ta, 1e-9))));
  const int inner_b = std::max(1, int(std::lround(opts.sample_seconds / std::max(tb, 1e-9))));
  std::vector<double> sa, sb;
  auto sample = [](const std::function<void()>& f, int inner, std::vector<double>& out) {
    if (!f) return;
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) f();
    out.push_back(seconds_since(t0) / inner);
  };
  for (int r = 0; r < opts.repeats; ++r) {
    if (r % 2 == 0) {
      sample(a, inner_a, sa);
      sample(b, inner_b, sb);
    } else {
      sample(b, inner_b, sb);
      sample(a, inner_a, sa);
    }
  }
  return {summarize(std::move(sa), inner_a), summarize(std::move(sb), inner_b)};
}

/// Sets the thread count identically for everything that runs threads in the process:
/// OpenMP (tapegrad's im2col/col2im and elementwise loops; ATen and oneDNN), OpenBLAS's
/// own pthread pool (both libraries' GEMMs), and libtorch's intra- and inter-op pools.
inline void set_threads(int n) {
#ifndef TAPEGRAD_BENCH_NO_TORCH
  torch::set_num_threads(n);
  try {
    at::set_num_interop_threads(n);  // allowed once, before any inter-op work
  } catch (const std::exception&) {
  }
#endif
  omp_set_num_threads(n);
  tapegrad::blas::set_num_threads(n);
}

/// A field of /proc/self/status in kB ("VmRSS", "VmHWM"), or -1.
inline long proc_status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

/// "AMD EPYC (family 25, model 17)", from /proc/cpuinfo.
inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, name = "unknown", family = "?", model = "?";
  auto value = [&] {
    const auto p = line.find(':');
    return p == std::string::npos ? std::string() : line.substr(p + 2);
  };
  while (std::getline(in, line) && !line.empty()) {
    if (line.rfind("model name", 0) == 0)
      name = value();
    else if (line.rfind("cpu family", 0) == 0)
      family = value();
    else if (line.rfind("model", 0) == 0 && line.rfind("model name", 0) != 0)
      model = value();
  }
  return name + " (family " + family + ", model " + model + ")";
}

extern "C" int openblas_thread_timeout(void);

/// CPU time of the whole process (all threads), in seconds.
inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

/// Milliseconds of CPU the process burns during a 50 ms sleep right after `work`: the
/// time its idle pool threads spend spin-waiting instead of sleeping.
template <class F>
double idle_spin_ms(F&& work) {
  work();
  const double c0 = process_cpu_seconds();
  timespec nap{0, 50'000'000};
  nanosleep(&nap, nullptr);
  return 1e3 * (process_cpu_seconds() - c0);
}

/// How idle pool threads wait, measured rather than read from the environment: neither
/// getenv in main nor libgomp's omp_display_env can tell (the latter prints PASSIVE when
/// OMP_WAIT_POLICY is unset, and a variable set by tapegrad's .preinit_array is not
/// what the libraries see; see docs/benchmarks.md). Gives the shell's variables,
/// OpenBLAS's parsed thread timeout, and the CPU burnt by idle threads in the 50 ms
/// after an OpenMP region and after a tapegrad GEMM (split over the OpenMP threads,
/// OpenBLAS single-threaded).
inline std::string thread_wait_settings() {
  std::string out;
  for (const char* v : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT"}) {
    const char* val = std::getenv(v);
    out += std::string(out.empty() ? "" : ", ") + v + "=" + (val ? val : "(unset)");
  }
  const int timeout = openblas_thread_timeout();
  out += "; OpenBLAS thread timeout in use: 2^" + std::to_string(timeout > 0 ? timeout : 28) +
         " cycles";
  volatile float sink = 0;
  auto omp_work = [&] {
#pragma omp parallel
    sink = sink + 1.0f;
  };
  std::vector<float> a(512 * 512, 1.0f), c(512 * 512);
  auto gemm_work = [&] {
    tapegrad::blas::gemm<float>(false, false, 512, 512, 512, 1.0f, a.data(), 512, a.data(), 512,
                                0.0f, c.data(), 512);
  };
  // The first calls start the pools (and libtorch's, if linked): measure later calls,
  // each after a pause long enough for any spinning left from the previous one to end.
  idle_spin_ms(omp_work), idle_spin_ms(gemm_work);
  timespec pause{0, 300'000'000};
  nanosleep(&pause, nullptr);
  const double omp_ms = idle_spin_ms(omp_work);
  nanosleep(&pause, nullptr);
  const double blas_ms = idle_spin_ms(gemm_work);
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "; CPU burnt by idle threads in the 50 ms after an OpenMP region: %.1f ms, after "
                "a tapegrad GEMM: %.1f ms",
                omp_ms, blas_ms);
  return out + buf;
}

/// "0.42 0.50 0.61" (1, 5 and 15 minute load averages).
inline std::string load_average() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) != 3) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return buf;
}

}  // namespace tapegrad::bench
