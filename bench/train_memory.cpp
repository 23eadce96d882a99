// Peak memory of training the MNIST autoencoder: 200 Adam steps at batch 64 on random
// data, with tapegrad or libtorch. Run it under `/usr/bin/time -v` and read "Maximum
// resident set size"; the program also prints its own VmRSS before training and
// VmHWM (peak) after, and for tapegrad the tape's node count and bytes per step
// (read before backward), checking they are the same in every step.
//
//   train_memory --lib tapegrad|torch [--steps 200] [--batch 64] [--threads 2]
//   train_memory --print-env    (the thread/kernel variables in effect; see below)
//
// Built twice from this file: train_memory (both libraries linked) and
// train_memory_tapegrad_only (TAPEGRAD_BENCH_NO_TORCH: libtorch not linked, which is
// what a tapegrad user's program looks like).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/core/tape.hpp>

#include "autoencoder.hpp"
#include "harness.hpp"

#ifndef TAPEGRAD_BENCH_NO_TORCH
#include <torch/version.h>
#endif

using namespace tapegrad;
using namespace tapegrad::bench;

namespace {

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "error: %s\nusage: train_memory --lib tapegrad|torch [--steps N] [--batch N] "
               "[--threads N]\n",
               msg);
  std::exit(2);
}

int run_tapegrad(int steps, std::size_t batch) {
  Generator gen(7);
  auto net = make_tapegrad_autoencoder(42);
  optim::Adam opt(net->parameters(), {.lr = 1e-3});
  const long rss_before = proc_status_kb("VmRSS");
  std::size_t nodes0 = 0, bytes0 = 0;
  bool same = true;
  double first_loss = 0, last_loss = 0;
  const auto t0 = Clock::now();
  for (int s = 0; s < steps; ++s) {
    Tensor x = Tensor::rand({batch, 1, 28, 28}, gen);  // fresh random batch in [0, 1)
    Tensor loss = mse_loss((*net)(x), x);
    // The tape before backward holds the whole step's graph.
    const std::size_t nodes = Tape::current().node_count(), bytes = Tape::current().bytes();
    if (s == 0) {
      nodes0 = nodes, bytes0 = bytes;
    } else if (nodes != nodes0 || bytes != bytes0) {
      if (same)
        std::printf("tape differs at step %d: %zu nodes, %zu bytes (step 0: %zu, %zu)\n", s, nodes,
                    bytes, nodes0, bytes0);
      same = false;
    }
    loss.backward();
    opt.step();
    opt.zero_grad();
    last_loss = loss.item();
    if (s == 0) first_loss = last_loss;
  }
  const double secs = seconds_since(t0);
  std::printf("lib: tapegrad (gemm %s)\n", blas::backend().c_str());
  std::printf("steps: %d, batch %zu, %.1f ms/step, loss %.5f -> %.5f\n", steps, batch,
              1e3 * secs / steps, first_loss, last_loss);
  std::printf(
      "tape per step (before backward): %zu nodes, %zu bytes (%.2f MiB); identical in "
      "every step: %s\n",
      nodes0, bytes0, bytes0 / 1048576.0, same ? "yes" : "NO");
  std::printf("tape after the last step: %zu nodes\n", Tape::current().node_count());
  std::printf("VmRSS before training: %ld kB; VmHWM (peak RSS) at end: %ld kB\n", rss_before,
              proc_status_kb("VmHWM"));
  return same ? 0 : 1;
}

#ifndef TAPEGRAD_BENCH_NO_TORCH
int run_torch(int steps, std::size_t batch) {
  Generator gen(7);
  auto source = make_tapegrad_autoencoder(42);
  torch::nn::Sequential net = make_torch_autoencoder(*source);
  source.reset();
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  torch::manual_seed(7);
  const long rss_before = proc_status_kb("VmRSS");
  double first_loss = 0, last_loss = 0;
  const auto t0 = Clock::now();
  for (int s = 0; s < steps; ++s) {
    torch::Tensor x = torch::rand({std::int64_t(batch), 1, 28, 28});
    last_loss = torch_train_step(net, opt, x).item<double>();
    if (s == 0) first_loss = last_loss;
  }
  const double secs = seconds_since(t0);
  std::printf("lib: libtorch %d.%d.%d\n", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,
              TORCH_VERSION_PATCH);
  std::printf("steps: %d, batch %zu, %.1f ms/step, loss %.5f -> %.5f\n", steps, batch,
              1e3 * secs / steps, first_loss, last_loss);
  std::printf("VmRSS before training: %ld kB; VmHWM (peak RSS) at end: %ld kB\n", rss_before,
              proc_status_kb("VmHWM"));
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--print-env") {
    // The thread and kernel variables as this program runs with them (after tapegrad's
    // start-up code added its defaults), one NAME=value per line: passing them to a
    // profiled run avoids its re-exec, which perf's call-graph unwinding does not follow.
    for (const char* v :
         {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_CORETYPE"})
      if (const char* val = std::getenv(v)) std::printf("%s=%s\n", v, val);
    return 0;
  }
  std::string lib;
  int steps = 200, threads = 2;
  long batch = 64;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + k).c_str());
    const std::string v = argv[++i];
    if (k == "--lib")
      lib = v;
    else if (k == "--steps")
      steps = std::atoi(v.c_str());
    else if (k == "--batch")
      batch = std::atol(v.c_str());
    else if (k == "--threads")
      threads = std::atoi(v.c_str());
    else
      usage(("unknown argument " + k).c_str());
  }
  if (steps < 1 || batch < 1 || threads < 1) usage("--steps, --batch and --threads must be >= 1");
  set_threads(threads);
  std::printf("threads: %d; %s\n", threads, thread_wait_settings().c_str());
  if (lib == "tapegrad") return run_tapegrad(steps, std::size_t(batch));
#ifndef TAPEGRAD_BENCH_NO_TORCH
  if (lib == "torch") return run_torch(steps, std::size_t(batch));
  usage("--lib must be tapegrad or torch");
#else
  usage("--lib must be tapegrad (this build does not link libtorch)");
#endif
}
