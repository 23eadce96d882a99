// tapegrad vs libtorch, in one process, on the same threads: Conv2d and ConvTranspose2d
// forward and forward+backward on the autoencoder's layers and a few larger shapes,
// and one full Adam training step of the MNIST autoencoder. Prints Markdown.
//
//   bench_tapegrad_vs_torch [--threads N] [--repeats R] [--filter a,b,...]
//                           [--sample-ms T] [--warmup-ms T] [--no-phases]
//                           [--only tapegrad|torch] [--tsv FILE]
//   bench_tapegrad_vs_torch --merge TG1.tsv[,TG2.tsv...] TORCH1.tsv[,...] [--threads N]
//
// --filter takes substrings of case ids (e.g. "conv2d.ae_enc1.fwdbwd", "convT",
// "train.ae.b64"); a case runs if its id contains any of them. --only times one library
// (the other still runs once, for the check), --tsv writes the rows tab-separated, and
// --merge prints one table from such files: tapegrad's times from the first list,
// libtorch's from the second, each the median over the listed runs (separate processes;
// "noise" is then the range of the per-run medians over their median). That is how
// each library is measured in its own default thread-waiting environment, which cannot
// differ within one process, and how run-to-run variation (large at 2 threads on this
// machine) is taken into account.
//
// Each case is timed as interleaved pairs of samples (tapegrad, libtorch, libtorch,
// tapegrad, ...), every sample repeating the call until it lasts ~--sample-ms; the
// table gives the median per call. FLOPs count 2·MACs of the forward convolution;
// forward+backward counts 3× the forward (dL/dx, dL/dW each cost one forward; the
// bias gradient and elementwise work are not counted). Speed-up = libtorch time /
// tapegrad time: above 1 means tapegrad is faster.
#include <omp.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tapegrad/core/blas/gemm.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/layers/conv.hpp>
#include <vector>

#include "autoencoder.hpp"
#include "harness.hpp"

using namespace tapegrad;
using namespace tapegrad::bench;

namespace {

struct Args {
  int threads = 1;
  TimingOptions timing;
  std::vector<std::string> filters;
  bool phases = true;
  std::string only;                      // "", "tapegrad" or "torch": time one library only
  std::string tsv;                       // also write the rows here (tab-separated)
  std::string merge_ours, merge_theirs;  // --merge: tapegrad from one TSV, libtorch from another
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(
      stderr,
      "error: %s\nusage: bench_tapegrad_vs_torch [--threads N] [--repeats R] "
      "[--filter a,b,...] [--sample-ms T] [--warmup-ms T] [--no-phases]\n"
      "       [--only tapegrad|torch] [--tsv FILE]\n"
      "       bench_tapegrad_vs_torch --merge TG.tsv[,...] TORCH.tsv[,...] [--threads N]\n",
      msg);
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + k).c_str());
      return argv[++i];
    };
    if (k == "--threads") {
      a.threads = std::atoi(value().c_str());
      if (a.threads < 1) usage("--threads must be >= 1");
    } else if (k == "--repeats") {
      a.timing.repeats = std::atoi(value().c_str());
      if (a.timing.repeats < 1) usage("--repeats must be >= 1");
    } else if (k == "--sample-ms") {
      a.timing.sample_seconds = std::atof(value().c_str()) / 1000.0;
    } else if (k == "--warmup-ms") {
      a.timing.warmup_seconds = std::atof(value().c_str()) / 1000.0;
    } else if (k == "--filter") {
      std::stringstream ss(value());
      std::string item;
      while (std::getline(ss, item, ','))
        if (!item.empty()) a.filters.push_back(item);
    } else if (k == "--no-phases") {
      a.phases = false;
    } else if (k == "--only") {
      a.only = value();
      if (a.only != "tapegrad" && a.only != "torch") usage("--only takes tapegrad or torch");
      a.phases = false;
    } else if (k == "--tsv") {
      a.tsv = value();
    } else if (k == "--merge") {
      a.merge_ours = value();
      a.merge_theirs = value();
    } else if (k == "--help" || k == "-h") {
      usage("help");
    } else {
      usage(("unknown argument " + k).c_str());
    }
  }
  return a;
}

bool selected(const Args& a, const std::string& id) {
  if (a.filters.empty()) return true;
  for (const auto& f : a.filters)
    if (id.find(f) != std::string::npos) return true;
  return false;
}

/// `f` unless --only names the other library (then an empty function: not timed).
std::function<void()> pick(const Args& a, const char* lib, std::function<void()> f) {
  if (!a.only.empty() && a.only != lib) return {};
  return f;
}

/// max |a − b| / max |b|: the error of tapegrad's result relative to libtorch's scale.
double rel_error(const Tensor& ours, const torch::Tensor& ref) {
  const torch::Tensor a = to_torch(ours);
  const torch::Tensor b = ref.detach().contiguous();
  const double scale = b.abs().max().item<double>();
  return (a - b).abs().max().item<double>() / std::max(scale, 1e-30);
}

// ---- result rows ----

struct Row {
  std::string id;     // for --filter, e.g. "convT.ae_dec2.fwdbwd"
  std::string what;   // "Conv2d(16,32,3,s2,p1)"
  std::string input;  // "64×16×14×14"
  std::string pass;   // "fwd" / "fwd+bwd" / "step"
  double gflop = 0;   // per call
  Stats ours, theirs;
  double check = 0;   // max relative difference of the results
  double target = 0;  // speed-up the issue asks for at 2 threads (0: none)
};

Row make_row(std::string id, std::string what, std::string input, std::string pass, double gflop) {
  Row r;
  r.id = std::move(id), r.what = std::move(what), r.input = std::move(input);
  r.pass = std::move(pass), r.gflop = gflop;
  return r;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string ms(double s) {
  const double m = s * 1e3;
  return m >= 100 ? fmt("%.1f", m) : m >= 10 ? fmt("%.2f", m) : fmt("%.3f", m);
}

void print_table(const std::vector<Row>& rows, int threads) {
  std::printf(
      "| layer | input N×C×H×W | pass | GFLOP | tapegrad ms | libtorch ms | tapegrad GFLOP/s | "
      "libtorch GFLOP/s | speed-up (torch/tg) | target @2T | noise | check |\n"
      "|---|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|\n");
  for (const Row& r : rows) {
    const bool both = r.ours.median > 0 && r.theirs.median > 0;  // else --only
    const double speedup = both ? r.theirs.median / r.ours.median : 0;
    std::string target = "—";
    if (r.target > 0) {
      target = "≥ " + fmt("%.1f", r.target);
      if (threads == 2 && both) target += speedup >= r.target ? " met" : " **missed**";
    }
    auto time = [](const Stats& st) { return st.median > 0 ? ms(st.median) : std::string("—"); };
    auto rate = [&](const Stats& st) {
      return st.median > 0 && r.gflop > 0 ? fmt("%.1f", r.gflop / st.median) : std::string("—");
    };
    const double noise = std::max(r.ours.spread(), r.theirs.spread());
    std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.what.c_str(),
                r.input.c_str(), r.pass.c_str(), fmt("%.4g", r.gflop).c_str(), time(r.ours).c_str(),
                time(r.theirs).c_str(), rate(r.ours).c_str(), rate(r.theirs).c_str(),
                both ? ("**" + fmt("%.2f", speedup) + "×**").c_str() : "—", target.c_str(),
                fmt("%.0f%%", 100 * noise).c_str(), fmt("%.0e", r.check).c_str());
    std::fflush(stdout);
  }
}

// ---- rows as tab-separated text, to merge runs made in different environments ----

void write_tsv(const std::string& path, const std::vector<Row>& rows) {
  std::ofstream out(path);
  for (const Row& r : rows) {
    out << r.id << '\t' << r.what << '\t' << r.input << '\t' << r.pass << '\t' << r.gflop << '\t'
        << r.target << '\t' << r.check;
    for (const Stats* st : {&r.ours, &r.theirs})
      out << '\t' << st->median << '\t' << st->p25 << '\t' << st->p75 << '\t' << st->samples;
    out << '\n';
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::vector<Row> read_tsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<Row> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, '\t')) f.push_back(field);
    if (f.size() != 15) throw std::runtime_error(path + ": malformed line: " + line);
    Row r = make_row(f[0], f[1], f[2], f[3], std::stod(f[4]));
    r.target = std::stod(f[5]), r.check = std::stod(f[6]);
    Stats* st[2] = {&r.ours, &r.theirs};
    for (int i = 0; i < 2; ++i) {
      st[i]->median = std::stod(f[7 + 4 * i]), st[i]->p25 = std::stod(f[8 + 4 * i]);
      st[i]->p75 = std::stod(f[9 + 4 * i]), st[i]->samples = std::stoi(f[10 + 4 * i]);
    }
    rows.push_back(r);
  }
  return rows;
}

/// The median over runs of per-run medians, with p25/p75 set to the smallest and largest
/// per-run median (so spread() is the range across runs relative to the median).
Stats across_runs(const std::vector<Stats>& runs) {
  std::vector<double> m;
  for (const Stats& r : runs)
    if (r.median > 0) m.push_back(r.median);
  Stats s;
  if (m.empty()) return s;
  if (m.size() == 1) return runs.front().median > 0 ? runs.front() : runs.back();
  s.median = quantile(m, 0.5);  // sorts m
  s.p25 = m.front(), s.p75 = m.back(), s.min = m.front();
  s.samples = int(m.size());
  return s;
}

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

/// Rows of the runs in `ours_list` (comma-separated TSV files) with tapegrad's times the
/// median over those runs, and libtorch's the median over the runs in `theirs_list`,
/// matched by case id (cases missing from either side are dropped).
std::vector<Row> merge_rows(const std::string& ours_list, const std::string& theirs_list) {
  std::vector<std::vector<Row>> ours, theirs;
  for (const auto& f : split_list(ours_list)) ours.push_back(read_tsv(f));
  for (const auto& f : split_list(theirs_list)) theirs.push_back(read_tsv(f));
  std::vector<Row> out;
  if (ours.empty() || theirs.empty()) return out;
  for (Row r : ours.front()) {
    std::vector<Stats> mine, other;
    for (const auto& run : ours)
      for (const Row& x : run)
        if (x.id == r.id) mine.push_back(x.ours), r.check = std::max(r.check, x.check);
    for (const auto& run : theirs)
      for (const Row& x : run)
        if (x.id == r.id) other.push_back(x.theirs), r.check = std::max(r.check, x.check);
    if (other.empty()) continue;
    r.ours = across_runs(mine);
    r.theirs = across_runs(other);
    out.push_back(r);
  }
  return out;
}

// ---- convolution cases ----

struct ConvCase {
  std::string id;
  bool transposed;
  std::int64_t n, c_in, h, w, c_out, k, stride, pad, out_pad, groups;
  bool autoencoder;  // one of the autoencoder's own layers

  std::string what() const {
    std::string s = transposed ? "ConvTranspose2d(" : "Conv2d(";
    s += std::to_string(c_in) + "," + std::to_string(c_out) + "," + std::to_string(k);
    if (stride != 1) s += ",s" + std::to_string(stride);
    if (pad != 0) s += ",p" + std::to_string(pad);
    if (out_pad != 0) s += ",op" + std::to_string(out_pad);
    if (groups != 1) s += ",g" + std::to_string(groups);
    s += ")";
    if (autoencoder) s = "AE " + s;
    return s;
  }
  std::string input() const {
    return std::to_string(n) + "×" + std::to_string(c_in) + "×" + std::to_string(h) + "×" +
           std::to_string(w);
  }
  std::int64_t h_out() const {
    return transposed ? (h - 1) * stride - 2 * pad + (k - 1) + out_pad + 1
                      : (h + 2 * pad - (k - 1) - 1) / stride + 1;
  }
  std::int64_t w_out() const {
    return transposed ? (w - 1) * stride - 2 * pad + (k - 1) + out_pad + 1
                      : (w + 2 * pad - (k - 1) - 1) / stride + 1;
  }
  /// Multiply-adds of the forward: each (output pixel, input channel of its group,
  /// tap) for conv2d; each (input pixel, output channel of its group, tap) for the
  /// transposed conv (it is the adjoint of a conv2d with those roles swapped).
  double macs() const {
    const double taps = double(k * k);
    return transposed ? double(n) * c_in * h * w * double(c_out / groups) * taps
                      : double(n) * c_out * h_out() * w_out() * double(c_in / groups) * taps;
  }
};

std::vector<ConvCase> conv_cases() {
  return {
      // id, transposed, n, c_in, h, w, c_out, k, stride, pad, out_pad, groups, autoencoder
      {"conv2d.ae_enc1", false, 64, 1, 28, 28, 16, 3, 2, 1, 0, 1, true},
      {"conv2d.ae_enc2", false, 64, 16, 14, 14, 32, 3, 2, 1, 0, 1, true},
      {"conv2d.ae_enc3", false, 64, 32, 7, 7, 64, 7, 1, 0, 0, 1, true},
      {"conv2d.64x64_56", false, 8, 64, 56, 56, 64, 3, 1, 1, 0, 1, false},
      {"conv2d.32x64_28", false, 32, 32, 28, 28, 64, 3, 1, 1, 0, 1, false},
      {"conv2d.depthwise64_56", false, 8, 64, 56, 56, 64, 3, 1, 1, 0, 64, false},
      {"convT.ae_dec1", true, 64, 64, 1, 1, 32, 7, 1, 0, 0, 1, true},
      {"convT.ae_dec2", true, 64, 32, 7, 7, 16, 3, 2, 1, 1, 1, true},
      {"convT.ae_dec3", true, 64, 16, 14, 14, 1, 3, 2, 1, 1, 1, true},
      {"convT.up64x32_28", true, 16, 64, 28, 28, 32, 4, 2, 1, 0, 1, false},
  };
}

void run_conv_case(const ConvCase& c, const Args& args, std::vector<Row>& rows) {
  const std::string id_fwd = c.id + ".fwd", id_bwd = c.id + ".fwdbwd";
  const bool do_fwd = selected(args, id_fwd), do_bwd = selected(args, id_bwd);
  if (!do_fwd && !do_bwd) return;
  std::fprintf(stderr, "running %s\n", c.id.c_str());

  Generator gen(1234);
  const Dtype f32 = Dtype::Float32;
  auto sz = [](std::int64_t v) { return std::size_t(v); };
  Tensor x = Tensor::randn({sz(c.n), sz(c.c_in), sz(c.h), sz(c.w)}, gen, f32, true);
  Tensor dy = Tensor::randn({sz(c.n), sz(c.c_out), sz(c.h_out()), sz(c.w_out())}, gen, f32);
  std::shared_ptr<Module> layer;
  Tensor w, b;
  if (c.transposed) {
    auto m = std::make_shared<ConvTranspose2d>(
        c.c_in, c.c_out, c.k, gen,
        ConvTranspose2dOptions{}.stride(c.stride).padding(c.pad).output_padding(c.out_pad).groups(
            c.groups));
    w = m->weight, b = m->bias, layer = m;
  } else {
    auto m =
        std::make_shared<Conv2d>(c.c_in, c.c_out, c.k, gen,
                                 Conv2dOptions{}.stride(c.stride).padding(c.pad).groups(c.groups));
    w = m->weight, b = m->bias, layer = m;
  }
  torch::Tensor tx = to_torch(x).requires_grad_(true);
  torch::Tensor tw = to_torch(w).requires_grad_(true);
  torch::Tensor tb = to_torch(b).requires_grad_(true);
  torch::Tensor tdy = to_torch(dy);
  auto torch_forward = [&]() {
    return c.transposed
               ? torch::conv_transpose2d(tx, tw, tb, {c.stride, c.stride}, {c.pad, c.pad},
                                         {c.out_pad, c.out_pad}, c.groups, {1, 1})
               : torch::conv2d(tx, tw, tb, {c.stride, c.stride}, {c.pad, c.pad}, {1, 1}, c.groups);
  };

  // Forward only, recording nothing (NoGradGuard in both): the kernels alone.
  auto ours_fwd = [&]() {
    NoGradGuard no_grad;
    Tensor y = (*layer)(x);
  };
  auto theirs_fwd = [&]() {
    torch::NoGradGuard no_grad;
    torch::Tensor y = torch_forward();
  };
  // Forward + backward from a given dL/dy: dL/dx, dL/dW, dL/db. Gradients are set to
  // none first, so each call computes them afresh (no accumulation pass) in both.
  auto ours_bwd = [&]() {
    x.zero_grad(), w.zero_grad(), b.zero_grad();
    Tensor y = (*layer)(x);
    y.backward(dy);
  };
  auto theirs_bwd = [&]() {
    tx.mutable_grad().reset(), tw.mutable_grad().reset(), tb.mutable_grad().reset();
    torch::Tensor y = torch_forward();
    y.backward(tdy);
  };

  const double gflop = 2 * c.macs() * 1e-9;
  if (do_fwd) {
    Row r = make_row(id_fwd, c.what(), c.input(), "fwd", gflop);
    {
      NoGradGuard no_grad;
      torch::NoGradGuard tno_grad;
      r.check = rel_error((*layer)(x), torch_forward());
    }
    std::tie(r.ours, r.theirs) =
        time_pair(pick(args, "tapegrad", ours_fwd), pick(args, "torch", theirs_fwd), args.timing);
    rows.push_back(r);
  }
  if (do_bwd) {
    Row r = make_row(id_bwd, c.what(), c.input(), "fwd+bwd", 3 * gflop);
    r.target = c.transposed ? 2.0 : c.autoencoder ? 1.0 : 0.8;
    ours_bwd();
    theirs_bwd();
    r.check = std::max({rel_error(x.grad(), tx.grad()), rel_error(w.grad(), tw.grad()),
                        rel_error(b.grad(), tb.grad())});
    std::tie(r.ours, r.theirs) =
        time_pair(pick(args, "tapegrad", ours_bwd), pick(args, "torch", theirs_bwd), args.timing);
    rows.push_back(r);
  }
}

// ---- layers of the classifier and the DCGAN (pytorch/examples cpp/mnist, cpp/dcgan) ----

// One layer's forward + backward from a fixed dL/dy, in both libraries; `gflop` is 0
// (these layers are memory-bound), so the table's GFLOP/s columns stay empty.
struct LayerCase {
  std::string id, what;
  Shape input;
  std::function<Tensor(const Tensor&)> ours;
  std::function<torch::Tensor(const torch::Tensor&)> theirs;
};

std::string shape_x(const Shape& s) {
  std::string out;
  for (std::size_t v : s) out += (out.empty() ? "" : "×") + std::to_string(v);
  return out;
}

std::vector<LayerCase> layer_cases() {
  std::vector<LayerCase> cases;
  // Batch norm in training mode (batch statistics, running statistics updated), as the
  // DCGAN uses it: generator and discriminator shapes at batch 64.
  for (Shape s : {Shape{64, 256, 4, 4}, Shape{64, 128, 7, 7}, Shape{64, 64, 14, 14}}) {
    const std::int64_t c = std::int64_t(s[1]);
    auto rm = std::make_shared<Tensor>(Tensor::zeros({s[1]})),
         rv = std::make_shared<Tensor>(Tensor::ones({s[1]}));
    auto w = std::make_shared<Tensor>(Tensor::ones({s[1]}, Dtype::Float32, true));
    auto b = std::make_shared<Tensor>(Tensor::zeros({s[1]}, Dtype::Float32, true));
    auto trm = std::make_shared<torch::Tensor>(torch::zeros({c}));
    auto trv = std::make_shared<torch::Tensor>(torch::ones({c}));
    auto tw = std::make_shared<torch::Tensor>(torch::ones({c}).requires_grad_(true));
    auto tb = std::make_shared<torch::Tensor>(torch::zeros({c}).requires_grad_(true));
    cases.push_back(
        {"layer.bn." + std::to_string(c), "BatchNorm2d(" + std::to_string(c) + "), train", s,
         [=](const Tensor& x) { return batch_norm(x, *rm, *rv, *w, *b, true, 0.1, 1e-5); },
         [=](const torch::Tensor& x) {
           return torch::batch_norm(x, *tw, *tb, *trm, *trv, true, 0.1, 1e-5, false);
         }});
  }
  // The classifier's two max-pools (after conv1 and conv2 at batch 64).
  for (Shape s : {Shape{64, 10, 24, 24}, Shape{64, 20, 8, 8}}) {
    cases.push_back({"layer.maxpool." + std::to_string(s[1]), "MaxPool2d(2)", s,
                     [](const Tensor& x) { return max_pool2d(x, {2}); },
                     [](const torch::Tensor& x) {
                       return torch::max_pool2d(x, {2, 2});
                     }});
  }
  cases.push_back({"layer.avgpool", "AvgPool2d(2)", Shape{64, 64, 28, 28},
                   [](const Tensor& x) { return avg_pool2d(x, {2}); },
                   [](const torch::Tensor& x) {
                     return torch::avg_pool2d(x, {2, 2});
                   }});
  // The classifier's head: log_softmax + NLL over 10 classes, batch 64.
  {
    std::vector<std::int64_t> labels(64);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = std::int64_t((i * 7) % 10);
    const IndexTensor target(labels);
    const torch::Tensor ttarget = torch::tensor(labels, torch::kLong);
    cases.push_back({"layer.logsoftmax_nll", "log_softmax + nll_loss", Shape{64, 10},
                     [=](const Tensor& x) { return nll_loss(log_softmax(x, 1), target); },
                     [=](const torch::Tensor& x) {
                       return torch::nll_loss(torch::log_softmax(x, 1), ttarget);
                     }});
  }
  return cases;
}

void run_layer_case(const LayerCase& c, const Args& args, std::vector<Row>& rows) {
  const std::string id = c.id + ".fwdbwd";
  if (!selected(args, id)) return;
  std::fprintf(stderr, "running %s\n", c.id.c_str());
  Generator gen(99);
  Tensor x = Tensor::randn(c.input, gen, Dtype::Float32, true);
  torch::Tensor tx = to_torch(x).requires_grad_(true);
  Tensor y0;
  {
    NoGradGuard no_grad;
    y0 = c.ours(x);
  }
  Tensor dy = Tensor::randn(y0.shape(), gen);
  torch::Tensor tdy = to_torch(dy);
  auto ours = [&]() {
    x.zero_grad();
    c.ours(x).backward(dy);
  };
  auto theirs = [&]() {
    tx.mutable_grad().reset();
    c.theirs(tx).backward(tdy);
  };
  Row r = make_row(id, c.what, shape_x(c.input), "fwd+bwd", 0);
  r.target = 1.0;
  ours();
  theirs();
  r.check = rel_error(x.grad(), tx.grad());
  std::tie(r.ours, r.theirs) =
      time_pair(pick(args, "tapegrad", ours), pick(args, "torch", theirs), args.timing);
  rows.push_back(r);
}

// ---- training step ----

struct Phases {
  double forward = 0, backward = 0, step = 0, zero_grad = 0;
  double total() const { return forward + backward + step + zero_grad; }
};

/// Median time of each phase of the training step, over `steps` steps after warm-up.
template <class Fwd, class Bwd, class Step, class Zero>
Phases time_phases(int steps, Fwd&& fwd, Bwd&& bwd, Step&& step, Zero&& zero) {
  std::vector<double> f, b, s, z;
  for (int i = 0; i < steps + 3; ++i) {
    auto t0 = Clock::now();
    auto loss = fwd();
    auto t1 = Clock::now();
    bwd(loss);
    auto t2 = Clock::now();
    step();
    auto t3 = Clock::now();
    zero();
    auto t4 = Clock::now();
    if (i < 3) continue;
    auto d = [](auto a, auto c) { return std::chrono::duration<double>(c - a).count(); };
    f.push_back(d(t0, t1)), b.push_back(d(t1, t2)), s.push_back(d(t2, t3)), z.push_back(d(t3, t4));
  }
  return {quantile(f, 0.5), quantile(b, 0.5), quantile(s, 0.5), quantile(z, 0.5)};
}

void run_train_case(std::int64_t batch, const Args& args, std::vector<Row>& rows,
                    std::vector<std::pair<std::int64_t, std::pair<Phases, Phases>>>& phases) {
  const std::string id = "train.ae.b" + std::to_string(batch);
  if (!selected(args, id)) return;
  std::fprintf(stderr, "running %s\n", id.c_str());
  Generator gen(7);
  auto net = make_tapegrad_autoencoder(42);
  optim::Adam opt(net->parameters(), {.lr = 1e-3});
  Tensor x = Tensor::rand({std::size_t(batch), 1, 28, 28}, gen);  // inputs in [0, 1)
  torch::nn::Sequential tnet = make_torch_autoencoder(*net);
  torch::optim::Adam topt(tnet->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor tx = to_torch(x);

  Row r = make_row(id, "AE training step (fwd, MSE, bwd, Adam, zero_grad)",
                   std::to_string(batch) + "×1×28×28", "step",
                   3 * 2 * autoencoder_macs_per_image() * double(batch) * 1e-9);
  r.target = batch == 64 ? 2.0 : 0.0;
  // The first steps start from the same parameters: the losses must agree.
  const double l_ours = tapegrad_train_step(*net, opt, x).item();
  const double l_theirs = torch_train_step(tnet, topt, tx).item<double>();
  r.check = std::fabs(l_ours - l_theirs) / std::fabs(l_theirs);
  std::tie(r.ours, r.theirs) =
      time_pair(pick(args, "tapegrad", [&] { tapegrad_train_step(*net, opt, x); }),
                pick(args, "torch", [&] { torch_train_step(tnet, topt, tx); }), args.timing);
  rows.push_back(r);

  if (!args.phases) return;
  const int steps = std::max(9, args.timing.repeats * 2);
  Phases ours = time_phases(
      steps, [&] { return mse_loss((*net)(x), x); }, [](const Tensor& l) { l.backward(); },
      [&] { opt.step(); }, [&] { opt.zero_grad(); });
  auto tparams = tnet->parameters();
  Phases theirs = time_phases(
      steps, [&] { return torch::mse_loss(tnet->forward(tx), tx); },
      [](const torch::Tensor& l) { l.backward(); }, [&] { topt.step(); },
      [&] {
        for (auto& p : tparams) p.mutable_grad().reset();
      });
  phases.push_back({batch, {ours, theirs}});
}

// ---- gradient-penalty step (second order) ----

// One WGAN-GP-style step through the autoencoder: the reconstruction loss plus
// 10·mean((‖∂mean(net(x̂))/∂x̂‖₂ − 1)²) per sample, backpropagated (a double backward
// through every convolution), then Adam.
Tensor tapegrad_gp_step(Sequential& net, optim::Adam& opt, const Tensor& x, const Tensor& xhat0) {
  opt.zero_grad();
  Tensor xhat = xhat0.detach().requires_grad_(true);
  GradOptions higher;
  higher.create_graph = true;
  Tensor g = grad({mean(net(xhat))}, {xhat}, {}, higher)[0];
  Tensor norm = sqrt(sum(g * g, {1, 2, 3}));
  Tensor loss = mse_loss(net(x), x) + 10.0 * mean((norm - 1.0) * (norm - 1.0));
  loss.backward();
  opt.step();
  return loss;
}

torch::Tensor torch_gp_step(torch::nn::Sequential& net, torch::optim::Adam& opt,
                            const torch::Tensor& x, const torch::Tensor& xhat0) {
  for (auto& p : net->parameters()) p.mutable_grad().reset();
  torch::Tensor xhat = xhat0.detach().requires_grad_(true);
  torch::Tensor g = torch::autograd::grad({net->forward(xhat).mean()}, {xhat}, {},
                                          /*retain_graph=*/true, /*create_graph=*/true)[0];
  torch::Tensor norm = g.pow(2).sum({1, 2, 3}).sqrt();
  torch::Tensor loss = torch::mse_loss(net->forward(x), x) + 10.0 * (norm - 1).pow(2).mean();
  loss.backward();
  opt.step();
  return loss;
}

void run_gp_case(std::int64_t batch, const Args& args, std::vector<Row>& rows) {
  const std::string id = "train.gp.b" + std::to_string(batch);
  if (!selected(args, id)) return;
  std::fprintf(stderr, "running %s\n", id.c_str());
  Generator gen(8);
  auto net = make_tapegrad_autoencoder(43);
  optim::Adam opt(net->parameters(), {.lr = 1e-3});
  Tensor x = Tensor::rand({std::size_t(batch), 1, 28, 28}, gen);
  Tensor xhat = Tensor::rand({std::size_t(batch), 1, 28, 28}, gen);
  torch::nn::Sequential tnet = make_torch_autoencoder(*net);
  torch::optim::Adam topt(tnet->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor tx = to_torch(x), txhat = to_torch(xhat);
  // forward, backward (≈ 2 forwards), and the double backward of the penalty (≈ 4 more)
  Row r = make_row(id, "AE gradient-penalty step (double backward, Adam)",
                   std::to_string(batch) + "×1×28×28", "step",
                   7 * 2 * autoencoder_macs_per_image() * double(batch) * 1e-9);
  r.target = 1.5;
  const double l_ours = tapegrad_gp_step(*net, opt, x, xhat).item();
  const double l_theirs = torch_gp_step(tnet, topt, tx, txhat).item<double>();
  r.check = std::fabs(l_ours - l_theirs) / std::fabs(l_theirs);
  std::tie(r.ours, r.theirs) =
      time_pair(pick(args, "tapegrad", [&] { tapegrad_gp_step(*net, opt, x, xhat); }),
                pick(args, "torch", [&] { torch_gp_step(tnet, topt, tx, txhat); }), args.timing);
  rows.push_back(r);
}

void print_phases(const std::vector<std::pair<std::int64_t, std::pair<Phases, Phases>>>& phases) {
  if (phases.empty()) return;
  std::printf(
      "\nWhere the training step's time goes (median per phase, ms; phases timed separately, "
      "so the sum can differ a little from the step's median above):\n\n"
      "| batch | library | forward + MSE | backward | Adam step | zero_grad | sum |\n"
      "|--:|---|--:|--:|--:|--:|--:|\n");
  for (const auto& [batch, p] : phases) {
    const auto& [ours, theirs] = p;
    for (int i = 0; i < 2; ++i) {
      const Phases& q = i == 0 ? ours : theirs;
      std::printf("| %lld | %s | %s | %s | %s | %s | %s |\n", (long long)batch,
                  i == 0 ? "tapegrad" : "libtorch", ms(q.forward).c_str(), ms(q.backward).c_str(),
                  ms(q.step).c_str(), ms(q.zero_grad).c_str(), ms(q.total()).c_str());
    }
  }
}

/// Distinct file names in /proc/self/maps containing one of `keys` ("a.so, b.so").
std::string mapped_libraries(const std::vector<std::string>& keys) {
  std::ifstream in("/proc/self/maps");
  std::string line, out;
  std::vector<std::string> seen;
  while (std::getline(in, line)) {
    const auto slash = line.rfind('/');
    if (slash == std::string::npos) continue;
    const std::string name = line.substr(slash + 1);
    bool match = false;
    for (const auto& k : keys) match = match || name.find(k) != std::string::npos;
    if (!match || std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    out += (out.empty() ? "" : ", ") + name;
  }
  return out.empty() ? "none" : out;
}

void print_header(const Args& args) {
  std::printf("## tapegrad vs libtorch, %d thread%s\n\n", args.threads,
              args.threads == 1 ? "" : "s");
  std::printf("- CPU: %s, %d logical CPUs online; load average at start: %s\n", cpu_model().c_str(),
              omp_get_num_procs(), load_average().c_str());
  std::printf(
      "- tapegrad: gemm `%s`, OpenMP threads %d; OpenBLAS kernel in the process `%s`, "
      "OpenBLAS threads %d\n",
      blas::backend().c_str(), omp_get_max_threads(), blas::core_name().c_str(),
      blas::num_threads());
  // libtorch's build says BLAS_INFO=generic: it links libblas.so.3, which Debian's
  // alternatives resolve to OpenBLAS. The mapped libraries show what really runs.
  std::string blas_info = "BLAS_INFO=?";
  {
    const std::string cfg = at::show_config();
    const auto p = cfg.find("BLAS_INFO=");
    if (p != std::string::npos) blas_info = cfg.substr(p, cfg.find_first_of(", \n", p) - p);
  }
  std::printf("- libtorch %d.%d.%d: intra-op threads %d, inter-op threads %d, oneDNN %s, %s\n",
              TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH, at::get_num_threads(),
              at::get_num_interop_threads(), at::hasMKLDNN() ? "enabled" : "absent",
              blas_info.c_str());
  std::printf("- BLAS/threading libraries mapped in this process: %s\n",
              mapped_libraries({"blas", "lapack", "dnnl", "gomp", "tbb"}).c_str());
  std::printf("- idle-thread waiting (the same for both libraries): %s\n",
              thread_wait_settings().c_str());
  std::printf(
      "- timing: %d interleaved samples per library and case, each ≥ %.0f ms, after ≥ %.0f ms of "
      "warm-up; medians per call\n",
      args.timing.repeats, args.timing.sample_seconds * 1e3, args.timing.warmup_seconds * 1e3);
  std::printf(
      "- GFLOP = 2·MACs of the forward convolutions (fwd), 3× that for fwd+bwd and for the "
      "training step (elementwise ops, bias and Adam not counted); speed-up = libtorch time / "
      "tapegrad time (> 1: tapegrad faster); noise = the larger interquartile range / median of "
      "the two; check = max |tapegrad − libtorch| / max |libtorch| of the outputs (fwd), of "
      "dL/dx, dL/dW, dL/db (fwd+bwd), of the first step's loss (step)\n\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  if (!args.merge_ours.empty()) {
    print_table(merge_rows(args.merge_ours, args.merge_theirs), args.threads);
    return 0;
  }
  set_threads(args.threads);
  print_header(args);

  std::vector<Row> rows;
  for (const ConvCase& c : conv_cases()) run_conv_case(c, args, rows);
  for (const LayerCase& c : layer_cases()) run_layer_case(c, args, rows);
  std::vector<std::pair<std::int64_t, std::pair<Phases, Phases>>> phases;
  for (std::int64_t batch : {64, 256}) run_train_case(batch, args, rows, phases);
  run_gp_case(64, args, rows);

  print_table(rows, args.threads);
  print_phases(phases);
  if (!args.tsv.empty()) write_tsv(args.tsv, rows);
  std::printf("\nLoad average at end: %s\n\n", load_average().c_str());
  for (const Row& r : rows)
    if (r.check > 1e-3) {
      std::fprintf(stderr, "error: %s: tapegrad and libtorch disagree (relative %.2e)\n",
                   r.id.c_str(), r.check);
      return 1;
    }
  return 0;
}
