// A convolutional autoencoder trained end to end on MNIST (or Fashion-MNIST) with
// tapegrad: 28x28 images are squeezed through a 64-number code and rebuilt.
//
//   encoder: Conv2d(1,16,3,s2,p1) ReLU Conv2d(16,32,3,s2,p1) ReLU Conv2d(32,64,7)
//            [N,1,28,28] -> [N,16,14,14] -> [N,32,7,7] -> [N,64,1,1]
//   decoder: ConvTranspose2d(64,32,7) ReLU ConvTranspose2d(32,16,3,s2,p1,op1) ReLU
//            ConvTranspose2d(16,1,3,s2,p1,op1) Sigmoid
//            [N,64,1,1] -> [N,32,7,7] -> [N,16,14,14] -> [N,1,28,28]
//   loss: MSE against the input; Adam.
//
// After each epoch it evaluates the test MSE and writes, atomically, into --out:
// checkpoint.npz (model, optimizer, epoch and metrics history, for exact resume),
// metrics.csv, reconstructions.png and loss.png. The data order of epoch e depends
// only on (seed, e), so stopping after any epoch and resuming with --resume gives
// bit-identical results to an uninterrupted run.
//
// Helper modes (for tests): --make-synthetic DIR writes a small digit-like data set
// in MNIST's format; --compare A B checks two checkpoints for bit-identical training
// state.
#include <omp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <tapegrad/core/blas/gemm.hpp>
#include <tapegrad/core/checkpoint.hpp>
#include <tapegrad/core/io/atomic_file.hpp>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/layers/activation.hpp>
#include <tapegrad/layers/conv.hpp>
#include <tapegrad/layers/data/idx.hpp>
#include <tapegrad/layers/data/image.hpp>
#include <tapegrad/layers/loss.hpp>
#include <tapegrad/layers/sequential.hpp>
#include <tapegrad/optim/adam.hpp>
#include <thread>
#include <vector>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

#include "progress.hpp"
#include "synthetic.hpp"

namespace fs = std::filesystem;
using namespace tapegrad;
using mnist_autoencoder::format_duration;

namespace {

// ---------------------------------------------------------------------------------
// The model

/// Encoder and decoder as two named Sequentials, so parameters are called
/// "encoder.0.weight", ..., "decoder.4.bias" (PyTorch would name them the same).
class AutoEncoder : public Module {
 public:
  explicit AutoEncoder(Generator& gen) {
    // Braced lists are evaluated left to right: the layers draw from `gen` in order.
    encoder = register_module(
        "encoder",
        std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
            std::make_shared<Conv2d>(1, 16, 3, gen, Conv2dOptions{}.stride(2).padding(1)),
            std::make_shared<ReLU>(),
            std::make_shared<Conv2d>(16, 32, 3, gen, Conv2dOptions{}.stride(2).padding(1)),
            std::make_shared<ReLU>(),
            std::make_shared<Conv2d>(32, 64, 7, gen),
        }));
    const auto up = ConvTranspose2dOptions{}.stride(2).padding(1).output_padding(1);
    decoder = register_module(
        "decoder", std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
                       std::make_shared<ConvTranspose2d>(64, 32, 7, gen),
                       std::make_shared<ReLU>(),
                       std::make_shared<ConvTranspose2d>(32, 16, 3, gen, up),
                       std::make_shared<ReLU>(),
                       std::make_shared<ConvTranspose2d>(16, 1, 3, gen, up),
                       std::make_shared<Sigmoid>(),
                   }));
  }
  Tensor forward(const Tensor& x) override { return (*decoder)((*encoder)(x)); }
  std::string name() const override { return "AutoEncoder"; }

  std::shared_ptr<Sequential> encoder, decoder;
};

// ---------------------------------------------------------------------------------
// Options

struct Options {
  fs::path data = "data/mnist";
  int epochs = 10;
  int batch_size = 64;
  double lr = 1e-3;
  std::uint64_t seed = 0;
  int threads = 0;              // 0: all cores
  std::int64_t limit = 0;       // 0: all
  std::int64_t test_limit = 0;  // 0: all
  fs::path out = "out/mnist_autoencoder";
  fs::path resume;
  bool quiet = false;
  // Which of the options above were given on the command line (a resumed run adopts
  // the checkpoint's values for the others).
  bool seed_given = false, batch_given = false, lr_given = false, limit_given = false,
       test_limit_given = false;
  // Helper modes.
  fs::path make_synthetic;
  std::vector<std::string> compare;
};

/// Largest seed stored exactly in the checkpoint (as a float64).
constexpr std::uint64_t kMaxSeed = std::uint64_t{1} << 53;

/// Metrics of one epoch; also a row of metrics.csv and of "meta.metrics".
struct EpochMetrics {
  double epoch, train_loss, test_mse, seconds, images_per_sec;
};

/// Everything besides model and optimizer that a resumed run needs.
struct RunState {
  int epoch = 0;               // epochs completed
  std::size_t train_size = 0;  // training images of the run that wrote the checkpoint
  std::vector<EpochMetrics> history;
};

// ---------------------------------------------------------------------------------
// Data

struct Dataset {
  tapegrad::Array<float> images;  // [N, 1, 28, 28] in [0, 1]
  std::size_t size() const { return images.shape(0); }
};

Dataset load_split(const fs::path& dir, data::MnistSplit split, std::int64_t limit_arg) {
  const auto limit = static_cast<std::size_t>(limit_arg);
  data::MnistData d = data::load_mnist(dir, split);
  const auto& s = d.images.shape();
  if (s[2] != 28 || s[3] != 28)
    throw std::runtime_error("this model expects 28x28 images; " + dir.string() + " has " +
                             std::to_string(s[2]) + "x" + std::to_string(s[3]));
  Dataset out;
  if (limit == 0 || limit >= s[0]) {
    out.images = std::move(d.images);
  } else {
    out.images = xt::empty<float>({limit, s[1], s[2], s[3]});
    std::copy_n(d.images.data(), out.images.size(), out.images.data());
  }
  return out;
}

/// Images `index[first..first+count)` of `data`, as one batch [count, 1, H, W].
tapegrad::Array<float> gather(const Dataset& data, const std::vector<std::size_t>& index,
                              std::size_t first, std::size_t count) {
  const auto& s = data.images.shape();
  const std::size_t per = s[1] * s[2] * s[3];
  tapegrad::Array<float> batch = xt::empty<float>({count, s[1], s[2], s[3]});
  for (std::size_t i = 0; i < count; ++i)
    std::copy_n(data.images.data() + index[first + i] * per, per, batch.data() + i * per);
  return batch;
}

/// Order of the training images in epoch `epoch` (1-based): a Fisher-Yates shuffle
/// driven by an mt19937_64 seeded from (seed, epoch) through std::seed_seq, both fully
/// specified by the C++ standard, so the order is a function of (seed, epoch, n)
/// alone, on every platform, and a resumed run sees the same batches.
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, int epoch) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(epoch)};
  std::mt19937_64 rng(seq);
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  for (std::size_t i = n; i > 1; --i) {
    // Uniform in [0, i) by Lemire's multiply-shift (bias below i/2^64: negligible).
    const auto j = static_cast<std::size_t>((static_cast<unsigned __int128>(rng()) * i) >> 64);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

// ---------------------------------------------------------------------------------
// Outputs

/// Test-set MSE (mean over every pixel), in batches, recording nothing on the tape.
double evaluate(AutoEncoder& model, const Dataset& test, std::size_t batch_size) {
  NoGradGuard no_grad;
  double sum = 0.0;
  std::vector<std::size_t> identity(test.size());
  for (std::size_t i = 0; i < identity.size(); ++i) identity[i] = i;
  for (std::size_t first = 0; first < test.size(); first += batch_size) {
    const std::size_t count = std::min(batch_size, test.size() - first);
    Tensor x = Tensor::from(gather(test, identity, first, count));
    sum += mse_loss(model(x), x, Reduction::Sum).item();
  }
  return sum / static_cast<double>(test.images.size());
}

/// Nearest-neighbour enlargement of a greyscale image [H, W] by `factor`.
tapegrad::Array<float> upscale(const tapegrad::Array<float>& image, std::size_t factor) {
  const std::size_t h = image.shape(0), w = image.shape(1);
  tapegrad::Array<float> out = xt::empty<float>({h * factor, w * factor});
  for (std::size_t i = 0; i < h * factor; ++i)
    for (std::size_t j = 0; j < w * factor; ++j) out(i, j) = image(i / factor, j / factor);
  return out;
}

/// The first `count` test digits in the top row and their reconstructions beneath.
void save_reconstructions(AutoEncoder& model, const Dataset& test, const fs::path& path) {
  const std::size_t count = std::min<std::size_t>(16, test.size());
  std::vector<std::size_t> identity(count);
  for (std::size_t i = 0; i < count; ++i) identity[i] = i;
  const tapegrad::Array<float> originals = gather(test, identity, 0, count);
  tapegrad::Array<float> rebuilt;
  {
    NoGradGuard no_grad;
    rebuilt = model(Tensor::from(originals)).value<float>();
  }
  const std::size_t per = originals.size() / count;
  tapegrad::Array<float> both =
      xt::empty<float>({2 * count, std::size_t{1}, std::size_t{28}, std::size_t{28}});
  std::copy_n(originals.data(), count * per, both.data());
  std::copy_n(rebuilt.data(), count * per, both.data() + count * per);
  data::save_png_gray(path, upscale(data::image_grid(both, 2, count, 2, 0.5f), 2));
}

void save_metrics_csv(const fs::path& path, const std::vector<EpochMetrics>& history) {
  std::string text = "epoch,train_loss,test_mse,seconds,images_per_sec\n";
  char line[160];
  for (const auto& m : history) {
    std::snprintf(line, sizeof line, "%d,%.9g,%.9g,%.3f,%.1f\n", static_cast<int>(m.epoch),
                  m.train_loss, m.test_mse, m.seconds, m.images_per_sec);
    text += line;
  }
  io::write_file_atomic(path,
                        std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
                        "save_metrics_csv");
}

void save_loss_plot(const fs::path& path, const std::vector<EpochMetrics>& history,
                    const std::string& title) {
  data::PlotSeries train{"train loss", {}, {}}, test{"test MSE", {}, {}};
  for (const auto& m : history) {
    train.x.push_back(m.epoch);
    train.y.push_back(m.train_loss);
    test.x.push_back(m.epoch);
    test.y.push_back(m.test_mse);
  }
  data::PlotOptions plot;
  plot.title = title;
  plot.y_label = "MSE";
  plot.log_y = true;
  data::plot_losses_png(path, {train, test}, plot);
}

// ---------------------------------------------------------------------------------
// Checkpoints: "model.*" (parameters), "optim.*" (Adam state), "meta.*" (below).

NamedTensors meta_state(const Options& o, const RunState& run, std::size_t train_size) {
  tapegrad::Array<double> metrics = xt::empty<double>({run.history.size(), std::size_t{5}});
  for (std::size_t i = 0; i < run.history.size(); ++i) {
    const auto& m = run.history[i];
    metrics(i, 0) = m.epoch, metrics(i, 1) = m.train_loss, metrics(i, 2) = m.test_mse;
    metrics(i, 3) = m.seconds, metrics(i, 4) = m.images_per_sec;
  }
  auto scalar = [](double v) { return Tensor::scalar(v, Dtype::Float64); };
  return {
      {"epoch", scalar(run.epoch)},
      {"seed", scalar(static_cast<double>(o.seed))},
      {"batch_size", scalar(o.batch_size)},
      {"limit", scalar(static_cast<double>(o.limit))},
      {"test_limit", scalar(static_cast<double>(o.test_limit))},
      {"train_size", scalar(static_cast<double>(train_size))},
      // One row per epoch: epoch, train_loss, test_mse, seconds, images_per_sec.
      {"metrics", Tensor::from(std::move(metrics))},
  };
}

/// A whole number stored as a 0-d tensor under `key`, checked to lie in [lo, hi].
double meta_integer(const NamedTensors& meta, const char* key, double lo, double hi) {
  const Tensor& t = lookup(meta, key);
  const double v = t.numel() == 1 ? t.item() : NAN;
  if (!(v >= lo && v <= hi && v == std::floor(v)))
    throw std::runtime_error(std::string("meta.") + key + " is not a whole number in range");
  return v;
}

/// Loads model, optimizer and run state from `path`; adopts the checkpoint's seed,
/// batch size and limits unless they were given on the command line (and warns when
/// a given one differs: the run then no longer matches an uninterrupted one).
RunState resume_from(const fs::path& path, Options& o, AutoEncoder& model, optim::Adam& adam) {
  const NamedTensors all = load_checkpoint(path);
  RunState run;
  try {
    model.load_state_dict(strip_prefix("model", all));
    adam.load_state_dict(strip_prefix("optim", all));
    const NamedTensors meta = strip_prefix("meta", all);
    run.epoch = static_cast<int>(meta_integer(meta, "epoch", 0, 1e9));
    run.train_size = static_cast<std::size_t>(meta_integer(meta, "train_size", 0, 1e15));
    auto adopt = [&](const char* key, auto& value, bool given, const char* flag) {
      const double stored = meta_integer(meta, key, 0, static_cast<double>(kMaxSeed));
      using V = std::decay_t<decltype(value)>;
      if (!given) {
        value = static_cast<V>(stored);
      } else if (static_cast<double>(value) != stored) {
        std::fprintf(stderr,
                     "mnist_autoencoder: warning: %s %.17g differs from the checkpoint's %.17g; "
                     "the resumed run will not match an uninterrupted one\n",
                     flag, static_cast<double>(value), stored);
      }
    };
    adopt("seed", o.seed, o.seed_given, "--seed");
    adopt("batch_size", o.batch_size, o.batch_given, "--batch-size");
    adopt("limit", o.limit, o.limit_given, "--limit");
    adopt("test_limit", o.test_limit, o.test_limit_given, "--test-limit");
    const tapegrad::Array<double>& m = lookup(meta, "metrics").value<double>();
    if (m.dimension() != 2 || m.shape(1) != 5 || m.shape(0) != static_cast<std::size_t>(run.epoch))
      throw std::runtime_error("meta.metrics should be [" + std::to_string(run.epoch) +
                               ", 5], got " + shape_str(lookup(meta, "metrics").shape()));
    for (std::size_t i = 0; i < m.shape(0); ++i)
      run.history.push_back({m(i, 0), m(i, 1), m(i, 2), m(i, 3), m(i, 4)});
  } catch (const std::exception& e) {
    throw std::runtime_error("--resume " + path.string() +
                             ": not a checkpoint of this example: " + e.what());
  }
  // The optimizer state carries the learning rate it was saved with; an explicit
  // --lr overrides it (fine-tuning), otherwise it is kept.
  if (o.lr_given) adam.set_lr(o.lr);
  o.lr = adam.lr();
  return run;
}

// ---------------------------------------------------------------------------------
// --compare A B: bit-identical training state?

bool same_bits(const Tensor& a, const Tensor& b, double& max_diff) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) {
    max_diff = INFINITY;
    return false;
  }
  return dispatch(a.dtype(), [&]<class T>() {
    const auto& x = a.value<T>();
    const auto& y = b.value<T>();
    max_diff = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
      max_diff = std::max(max_diff, std::abs(double(x.data()[i]) - double(y.data()[i])));
    return std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
  });
}

/// Compares the model and optimizer tensors, the epoch, and the epoch, train_loss
/// and test_mse columns of the metrics (the timing columns naturally differ).
int compare_checkpoints(const fs::path& a_path, const fs::path& b_path) {
  const NamedTensors a = load_checkpoint(a_path), b = load_checkpoint(b_path);
  int problems = 0;
  std::size_t tensors = 0, values = 0;
  auto report = [&](const std::string& what) {
    std::printf("  differs: %s\n", what.c_str());
    ++problems;
  };
  for (const auto& entry : a) {
    const std::string& key = entry.first;  // named: lambdas below capture it
    const Tensor& ta = entry.second;
    const bool state = key.rfind("model.", 0) == 0 || key.rfind("optim.", 0) == 0;
    if (!state && key != "meta.epoch") continue;
    const auto it =
        std::find_if(b.begin(), b.end(), [&](const auto& kv) { return kv.first == key; });
    if (it == b.end()) {
      report(key + " (missing in " + b_path.string() + ")");
      continue;
    }
    double diff = 0;
    if (!same_bits(ta, it->second, diff)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " (max |a-b| = %.3g)", diff);
      report(key + buf);
    }
    ++tensors;
    values += ta.numel();
  }
  for (const auto& entry : b)
    if (const std::string& key = entry.first;
        (key.rfind("model.", 0) == 0 || key.rfind("optim.", 0) == 0) &&
        std::none_of(a.begin(), a.end(), [&](const auto& kv) { return kv.first == key; }))
      report(key + " (missing in " + a_path.string() + ")");
  const auto& ma = lookup(a, "meta.metrics").value<double>();
  const auto& mb = lookup(b, "meta.metrics").value<double>();
  if (ma.shape() != mb.shape()) {
    report("meta.metrics shape " + shape_str(lookup(a, "meta.metrics").shape()) + " vs " +
           shape_str(lookup(b, "meta.metrics").shape()));
  } else {
    for (std::size_t i = 0; i < ma.shape(0); ++i)
      for (std::size_t j = 0; j < 3; ++j)
        if (std::memcmp(&ma(i, j), &mb(i, j), sizeof(double)) != 0) {
          char buf[128];
          std::snprintf(buf, sizeof buf, "meta.metrics row %zu column %zu: %.17g vs %.17g", i, j,
                        ma(i, j), mb(i, j));
          report(buf);
        }
  }
  if (problems == 0) {
    std::printf("identical: %zu tensors (%zu values) bit for bit, and %zu epochs of metrics\n",
                tensors, values, ma.shape(0));
    return 0;
  }
  std::printf("%d difference(s) between %s and %s\n", problems, a_path.c_str(), b_path.c_str());
  return 1;
}

// ---------------------------------------------------------------------------------
// Training

int train(Options& o) {
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const bool progress = tty && !o.quiet;
  auto say = [&](const char* fmt, auto... args) {
    if (!o.quiet) std::printf(fmt, args...);
  };

  const int threads = o.threads > 0
                          ? o.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // tapegrad parallelises on the OpenMP team (its GEMM kernels run single-threaded in it).
  omp_set_num_threads(threads);

  // Model and optimizer first: resuming may change seed, batch size and limits.
  Generator gen(o.seed);
  AutoEncoder model(gen);
  optim::Adam adam(model.parameters(), {.lr = o.lr});
  RunState run;
  if (!o.resume.empty()) run = resume_from(o.resume, o, model, adam);

  if (!fs::is_directory(o.data))
    throw std::runtime_error("--data " + o.data.string() +
                             ": no such directory (scripts/fetch_mnist.sh " + o.data.string() +
                             " puts MNIST there)");
  const Dataset train_set = load_split(o.data, data::MnistSplit::Train, o.limit);
  const Dataset test_set = load_split(o.data, data::MnistSplit::Test, o.test_limit);
  const std::size_t n = train_set.size();
  const std::size_t batch = static_cast<std::size_t>(o.batch_size);
  const std::size_t batches = (n + batch - 1) / batch;
  // A read-only or full output folder fails now, not after the first epoch.
  io::ensure_writable_directory(o.out, "mnist_autoencoder --out");
  const fs::path checkpoint = o.out / "checkpoint.npz", metrics_csv = o.out / "metrics.csv",
                 recon_png = o.out / "reconstructions.png", loss_png = o.out / "loss.png";
  const std::string plot_title = "conv autoencoder on " + o.data.filename().string();

  say("mnist_autoencoder: %zu training / %zu test images (28x28) from %s\n", n, test_set.size(),
      o.data.c_str());
  say("model: %zu parameters; encoder -> 64 numbers -> decoder; MSE loss; Adam lr %g\n",
      model.num_parameters(), o.lr);
  say("batch %zu (%zu batches per epoch), seed %llu, %d threads (gemm %s)\n", batch, batches,
      static_cast<unsigned long long>(o.seed), threads, blas::backend().c_str());
  if (run.epoch > 0) say("resumed from %s after epoch %d\n", o.resume.c_str(), run.epoch);
  if (run.epoch > 0 && run.train_size != n)
    std::fprintf(stderr,
                 "mnist_autoencoder: warning: the checkpoint was trained on %zu images, this run "
                 "has %zu; the resumed run will not match an uninterrupted one\n",
                 run.train_size, n);
  if (run.epoch >= o.epochs)
    say("already trained for %d epochs (--epochs %d): nothing to train\n", run.epoch, o.epochs);

  // Every output is written atomically (temporary file + rename): a crash or Ctrl-C
  // leaves the previous epoch's files. The checkpoint first: it is what must not be lost.
  auto save_outputs = [&] {
    save_checkpoint(checkpoint, merge({add_prefix("model", model.state_dict()),
                                       add_prefix("optim", adam.state_dict()),
                                       add_prefix("meta", meta_state(o, run, n))}));
    save_metrics_csv(metrics_csv, run.history);
    save_loss_plot(loss_png, run.history, plot_title);
    save_reconstructions(model, test_set, recon_png);
  };

  MSELoss mse;
  std::size_t steps = 0;
  for (int epoch = run.epoch + 1; epoch <= o.epochs; ++epoch) {
    const auto order = epoch_order(n, o.seed, epoch);
    const auto start = std::chrono::steady_clock::now();
    char label[64];
    std::snprintf(label, sizeof label, "epoch %d/%d", epoch, o.epochs);
    mnist_autoencoder::ProgressBar bar(stdout, label, batches, n);
    double loss_sum = 0.0;  // sum over batches of (mean batch loss) x (batch size)
    for (std::size_t b = 0; b < batches; ++b) {
      const std::size_t first = b * batch, count = std::min(batch, n - first);
      Tensor x = Tensor::from(gather(train_set, order, first, count));
      adam.zero_grad();
      Tensor loss = mse(model(x), x);
      loss.backward();  // runs the tape backwards, then clears it
      adam.step();
      // The tape must not grow from step to step: backward() cleared everything.
      if (const std::size_t left = Tape::current().node_count(); left != 0)
        throw std::logic_error("tape holds " + std::to_string(left) + " nodes after step " +
                               std::to_string(steps + 1) + " (expected 0)");
      ++steps;
      const double l = loss.item();
      if (!std::isfinite(l))
        throw std::runtime_error("the loss is " + std::to_string(l) + " at epoch " +
                                 std::to_string(epoch) + ", batch " + std::to_string(b + 1) +
                                 ": training diverged (try a smaller --lr)");
      loss_sum += l * static_cast<double>(count);
      if (progress) bar.update(b + 1, first + count, loss_sum / static_cast<double>(first + count));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto eval_start = std::chrono::steady_clock::now();
    const double test_mse = evaluate(model, test_set, 256);
    const double eval_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
    if (Tape::current().node_count() != 0)
      throw std::logic_error("evaluation recorded on the tape despite NoGradGuard");
    if (progress) bar.finish();

    run.epoch = epoch;
    run.history.push_back({static_cast<double>(epoch), loss_sum / static_cast<double>(n), test_mse,
                           seconds, static_cast<double>(n) / seconds});
    const EpochMetrics& m = run.history.back();
    save_outputs();
    say("epoch %*d/%d  train loss %.6f  test MSE %.6f  %6.1f s  %5.0f img/s  (eval %.1f s, ETA "
        "%s)\n",
        static_cast<int>(std::to_string(o.epochs).size()), epoch, o.epochs, m.train_loss,
        m.test_mse, m.seconds, m.images_per_sec, eval_seconds,
        format_duration((o.epochs - epoch) * (seconds + eval_seconds)).c_str());
    std::fflush(stdout);
  }

  if (steps == 0) save_outputs();  // resumed at or past --epochs: still fill --out
  std::printf("done: %d epochs, test MSE %.6f", run.epoch, run.history.back().test_mse);
  if (steps > 0) std::printf("; tape empty after each of %zu steps", steps);
  std::printf("\n");
  std::printf("  checkpoint       %s\n", checkpoint.c_str());
  std::printf("  metrics          %s\n", metrics_csv.c_str());
  std::printf("  loss curve       %s\n", loss_png.c_str());
  std::printf("  reconstructions  %s\n", recon_png.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Trains a convolutional autoencoder on MNIST (or Fashion-MNIST) with tapegrad.",
               "mnist_autoencoder"};
  app.add_option("--data", o.data, "Directory with the MNIST IDX files (plain or .gz)")
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "Train until this epoch (counting resumed ones)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  auto* batch_opt = app.add_option("--batch-size", o.batch_size, "Images per training step")
                        ->capture_default_str()
                        ->check(CLI::Range(1, 1 << 20));
  auto* lr_opt = app.add_option("--lr", o.lr, "Adam learning rate")->capture_default_str();
  auto* seed_opt = app.add_option("--seed", o.seed, "Seeds the weights and the data order")
                       ->capture_default_str()
                       ->check(CLI::Range(std::uint64_t{0}, kMaxSeed));
  app.add_option("--threads", o.threads,
                 "Threads of the OpenMP team tapegrad computes on (default: all cores)")
      ->check(CLI::Range(1, 4096));
  auto* limit_opt =
      app.add_option("--limit", o.limit, "Use only the first N training images (0: all)")
          ->capture_default_str()
          ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 40));
  auto* test_limit_opt =
      app.add_option("--test-limit", o.test_limit, "Use only the first N test images (0: all)")
          ->capture_default_str()
          ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 40));
  app.add_option("--out", o.out, "Directory for the checkpoint, metrics and pictures")
      ->capture_default_str();
  auto* resume_opt =
      app.add_option("--resume", o.resume, "Continue from a checkpoint.npz written by this program")
          ->check(CLI::ExistingFile);
  app.add_flag("--quiet", o.quiet, "Print only the final summary (no progress, no epoch lines)");
  auto* synth_opt = app.add_option("--make-synthetic", o.make_synthetic,
                                   "Write a synthetic digit-like data set (512 train, 256 test "
                                   "images) in MNIST's format into DIR, then exit");
  auto* compare_opt =
      app.add_option("--compare", o.compare,
                     "Exit 0 if two checkpoints hold bit-identical training state, 1 otherwise")
          ->expected(2)
          ->type_name("A B")
          ->check(CLI::ExistingFile);
  synth_opt->excludes(compare_opt);
  resume_opt->excludes(synth_opt)->excludes(compare_opt);
  CLI11_PARSE(app, argc, argv);
  o.seed_given = seed_opt->count() > 0;
  o.batch_given = batch_opt->count() > 0;
  o.lr_given = lr_opt->count() > 0;
  o.limit_given = limit_opt->count() > 0;
  o.test_limit_given = test_limit_opt->count() > 0;

  try {
    if (!(o.lr > 0 && std::isfinite(o.lr)))
      throw CLI::ValidationError("--lr",
                                 "must be a positive number, got " + CLI::detail::to_string(o.lr));
    if (!o.make_synthetic.empty()) {
      mnist_autoencoder::write_synthetic_mnist(o.make_synthetic, 512, 256, o.seed);
      std::printf("wrote 512 training and 256 test synthetic digits to %s\n",
                  o.make_synthetic.c_str());
      return 0;
    }
    if (!o.compare.empty()) return compare_checkpoints(o.compare[0], o.compare[1]);
    return train(o);
  } catch (const CLI::Error& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "\nmnist_autoencoder: error: %s\n", e.what());
    return 1;
  }
}
