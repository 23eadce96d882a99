// Checkpoints: named tensors <-> .npz. Round trips (tensors, modules, model plus
// optimizer), strict-load errors, the atomic write (a failed save keeps the old
// file), and the format itself checked by NumPy in both directions.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <tapegrad/core/checkpoint.hpp>
#include <tapegrad/core/io/atomic_file.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/activation.hpp>
#include <tapegrad/layers/linear.hpp>
#include <tapegrad/layers/loss.hpp>
#include <tapegrad/layers/sequential.hpp>
#include <tapegrad/optim/adam.hpp>
#include <vector>

using namespace tapegrad;
namespace fs = std::filesystem;

namespace {

// A fresh, empty directory per test under the build tree.
fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::path(TAPEGRAD_BINARY_DIR) / "test_checkpoint" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> dir_listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::shared_ptr<Sequential> make_mlp(Generator& gen, std::size_t hidden = 8) {
  return std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
      std::make_shared<Linear>(4, hidden, gen), std::make_shared<Tanh>(),
      std::make_shared<Linear>(hidden, 2, gen)});
}

bool same_values(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  return dispatch(a.dtype(), [&]<class T>() { return a.value<T>() == b.value<T>(); });
}

bool numpy_available() {
  return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

// Runs a Python script with /usr/bin/python3 and returns its stdout (empty on failure).
std::string run_python(const fs::path& dir, const std::string& script, int& status) {
  const fs::path py = dir / "script.py", out = dir / "script.out";
  std::ofstream(py) << script;
  status =
      std::system(("/usr/bin/python3 " + py.string() + " > " + out.string() + " 2>&1").c_str());
  return file_bytes(out);
}

}  // namespace

TEST_CASE("checkpoint: round trip keeps names, order, dtypes, shapes and exact values") {
  const fs::path dir = fresh_dir("round_trip");
  Generator gen(0);
  NamedTensors saved = {
      {"b.weight", Tensor::randn({3, 2}, gen, Dtype::Float32)},
      {"a.bias", Tensor::randn({5}, gen, Dtype::Float64)},
      {"step", Tensor::scalar(12.0, Dtype::Float64)},
      {"conv.weight", Tensor::randn({2, 3, 3, 3}, gen, Dtype::Float32)},
  };
  save_checkpoint(dir / "ck.npz", saved);
  NamedTensors loaded = load_checkpoint(dir / "ck.npz");
  REQUIRE(loaded.size() == saved.size());
  for (std::size_t i = 0; i < saved.size(); ++i) {
    CAPTURE(saved[i].first);
    CHECK(loaded[i].first == saved[i].first);
    CHECK(same_values(loaded[i].second, saved[i].second));
    CHECK_FALSE(loaded[i].second.requires_grad());
  }
  CHECK(lookup(loaded, "step").item() == 12.0);
  CHECK_THROWS_WITH_AS(lookup(loaded, "nope"), doctest::Contains("\"nope\""), std::out_of_range);
}

TEST_CASE("checkpoint: save(module)/load(module) reproduces the model's outputs") {
  const fs::path dir = fresh_dir("module");
  Generator g1(1), g2(2);
  auto model = make_mlp(g1);
  auto other = make_mlp(g2);
  Tensor x = Tensor::randn({5, 4}, g1);
  CHECK(model->forward(x).value<float>() != other->forward(x).value<float>());

  save(*model, dir / "model.npz");
  Tensor held = other->parameters()[0];  // e.g. held by an optimizer
  LoadReport r = load(*other, dir / "model.npz");
  CHECK(r.ok());
  CHECK(other->forward(x).value<float>() == model->forward(x).value<float>());
  CHECK(held.value<float>() == model->parameters()[0].value<float>());
}

TEST_CASE("checkpoint: loading into a different architecture names the key and both shapes") {
  const fs::path dir = fresh_dir("strict");
  Generator gen(3);
  save(*make_mlp(gen, 8), dir / "h8.npz");
  auto wider = make_mlp(gen, 16);
  CHECK_THROWS_WITH_AS(load(*wider, dir / "h8.npz"),
                       doctest::Contains("size mismatch for \"0.weight\": the source has shape [8, "
                                         "4], the module has shape [16, 4]"),
                       std::invalid_argument);
  LoadReport r = load(*wider, dir / "h8.npz", /*strict=*/false);
  CHECK(r.skipped_keys == std::vector<std::string>{"0.weight", "0.bias", "2.weight"});
  CHECK(r.missing_keys.empty());
  CHECK(r.unexpected_keys.empty());

  // A float64 checkpoint into a float32 model: a dtype error with the remedy.
  auto f64 = make_mlp(gen);
  f64->to(Dtype::Float64);
  save(*f64, dir / "f64.npz");
  CHECK_THROWS_WITH_AS(load(*make_mlp(gen), dir / "f64.npz"), doctest::Contains("Module::to"),
                       std::invalid_argument);

  CHECK_THROWS_WITH_AS(load(*make_mlp(gen), dir / "missing.npz"), doctest::Contains("missing.npz"),
                       io::IoError);
  std::ofstream(dir / "garbage.npz") << "this is not a zip archive";
  CHECK_THROWS_WITH_AS(load_checkpoint(dir / "garbage.npz"), doctest::Contains("garbage.npz"),
                       io::IoError);
}

TEST_CASE("checkpoint: model and optimizer state in one file through the prefix helpers") {
  const fs::path dir = fresh_dir("training_state");
  Generator gen(4);
  auto model = make_mlp(gen);
  optim::Adam adam(model->parameters(), {.lr = 1e-2});
  MSELoss mse;
  Tensor x = Tensor::randn({16, 4}, gen), y = Tensor::randn({16, 2}, gen);
  auto train_step = [&](Sequential& m, optim::Adam& opt) {
    opt.zero_grad();
    mse(m(x), y).backward();
    opt.step();
  };
  for (int i = 0; i < 3; ++i) train_step(*model, adam);

  save_checkpoint(dir / "state.npz", merge({add_prefix("model", model->state_dict()),
                                            add_prefix("optim", adam.state_dict())}));
  const NamedTensors ck = load_checkpoint(dir / "state.npz");
  CHECK(lookup(ck, "model.0.weight").shape() == Shape{8, 4});
  CHECK(lookup(ck, "optim.state.0.exp_avg").shape() == Shape{8, 4});

  // Resume in a fresh process-like setup: same model, same optimizer, same next step.
  Generator other(99);
  auto resumed = make_mlp(other);
  optim::Adam resumed_adam(resumed->parameters(), {.lr = 1e-2});
  CHECK(resumed->load_state_dict(strip_prefix("model", ck)).ok());
  resumed_adam.load_state_dict(strip_prefix("optim", ck));
  train_step(*model, adam);
  train_step(*resumed, resumed_adam);
  CHECK(resumed->forward(x).value<float>() == model->forward(x).value<float>());

  // The helpers themselves.
  NamedTensors a = {{"w", Tensor::zeros({1})}};
  CHECK(add_prefix("model", a)[0].first == "model.w");
  CHECK(add_prefix("model.", a)[0].first == "model.w");
  CHECK(add_prefix("", a)[0].first == "w");
  NamedTensors mixed = {
      {"model.w", a[0].second}, {"modelx.w", a[0].second}, {"optim.lr", a[0].second}};
  auto only_model = strip_prefix("model", mixed);
  REQUIRE(only_model.size() == 1);
  CHECK(only_model[0].first == "w");
  CHECK_THROWS_WITH_AS(merge({a, a}), doctest::Contains("\"w\" appears more than once"),
                       std::invalid_argument);
}

TEST_CASE("checkpoint: a failed write leaves the previous checkpoint intact") {
  const fs::path dir = fresh_dir("atomic");
  const fs::path path = dir / "ck.npz";
  Generator gen(5);
  save_checkpoint(path, {{"w", Tensor::randn({4, 4}, gen)}});
  const std::string before = file_bytes(path);
  REQUIRE(before.size() > 0);

  SUBCASE("bad arguments are rejected before the file is touched") {
    CHECK_THROWS_WITH_AS(save_checkpoint(path, {{"w", Tensor()}}),
                         doctest::Contains("\"w\" is undefined"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(
        save_checkpoint(path, {{"w", Tensor::zeros({1})}, {"w", Tensor::zeros({1})}}),
        doctest::Contains("more than once"), std::invalid_argument);
    CHECK_THROWS_AS(save_checkpoint(path, {{"", Tensor::zeros({1})}}), std::invalid_argument);
  }
  SUBCASE("the disk refuses the bytes half way through the write") {
    // RLIMIT_FSIZE makes write() fail with EFBIG past the limit, like a full disk,
    // whatever the user's privileges; SIGXFSZ is ignored so the error is returned.
    rlimit old_limit{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    auto old_handler = signal(SIGXFSZ, SIG_IGN);
    rlimit small = old_limit;
    small.rlim_cur = 64 * 1024;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    bool threw = false;
    try {
      save_checkpoint(path,
                      {{"w", Tensor::randn({4, 4}, gen)}, {"big", Tensor::zeros({256, 256})}});
    } catch (const io::IoError& e) {
      threw = true;
      MESSAGE("the failed save reported: " << std::string(e.what()));
    }
    setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, old_handler);
    CHECK(threw);
  }
  // The old file is still there, byte for byte, and no temporary file is left over.
  CHECK(file_bytes(path) == before);
  CHECK(dir_listing(dir) == std::vector<std::string>{"ck.npz"});
  CHECK(load_checkpoint(path).size() == 1);
}

TEST_CASE("checkpoint: NumPy reads a tapegrad checkpoint (keys, dtypes, shapes, values)") {
  if (!numpy_available()) {
    MESSAGE("skipped: /usr/bin/python3 with numpy is not available");
    return;
  }
  const fs::path dir = fresh_dir("numpy_reads");
  Generator gen(6);
  auto model = make_mlp(gen);
  model->at<Linear>(2)->to(Dtype::Float64);  // one float64 layer
  NamedTensors saved = merge({add_prefix("model", model->state_dict()),
                              {{"optim.state.0.step", Tensor::scalar(3.0, Dtype::Float64)}}});
  save_checkpoint(dir / "ck.npz", saved);

  // Python prints "key dtype shape values..." with repr(), which round-trips doubles.
  int status = 0;
  const std::string out = run_python(dir, R"(
import numpy as np
with np.load(")" + (dir / "ck.npz").string() + R"(") as f:
    for k in f.files:
        a = f[k]
        print(k, a.dtype.str, "x".join(map(str, a.shape)) or "scalar",
              " ".join(repr(float(v)) for v in a.ravel()))
)",
                                     status);
  REQUIRE_MESSAGE(status == 0, out);
  std::istringstream lines(out);
  std::string line;
  std::size_t i = 0;
  while (std::getline(lines, line)) {
    REQUIRE(i < saved.size());
    const std::string& key = saved[i].first;  // named: a lambda below captures them
    const Tensor& t = saved[i++].second;
    CAPTURE(line);
    std::istringstream fields(line);
    std::string k, dtype, shape;
    fields >> k >> dtype >> shape;
    CHECK(k == key);
    CHECK(dtype == (t.dtype() == Dtype::Float32 ? "<f4" : "<f8"));
    std::string expected_shape;
    for (auto d : t.shape())
      expected_shape += (expected_shape.empty() ? "" : "x") + std::to_string(d);
    CHECK(shape == (expected_shape.empty() ? "scalar" : expected_shape));
    std::vector<double> values;
    for (std::string v; fields >> v;) values.push_back(std::strtod(v.c_str(), nullptr));
    REQUIRE(values.size() == t.numel());
    dispatch(t.dtype(), [&]<class T>() {
      for (std::size_t j = 0; j < values.size(); ++j)
        CHECK(values[j] == double(t.value<T>().flat(j)));
    });
  }
  CHECK(i == saved.size());
}

TEST_CASE("checkpoint: files written by numpy.savez and savez_compressed load") {
  if (!numpy_available()) {
    MESSAGE("skipped: /usr/bin/python3 with numpy is not available");
    return;
  }
  const fs::path dir = fresh_dir("numpy_writes");
  int status = 0;
  const std::string out = run_python(dir,
                                     R"(
import numpy as np
w = np.arange(12, dtype=np.float32).reshape(3, 4) / 8
b = np.array([0.1, -0.2, 0.3])
np.savez(")" + (dir / "plain.npz").string() +
                                         R"(", **{"0.weight": w, "0.bias": b, "step": np.int64(7)})
np.savez_compressed(")" + (dir / "zipped.npz").string() +
                                         R"(", **{"0.weight": w, "0.bias": b, "step": np.int64(7)})
)",
                                     status);
  REQUIRE_MESSAGE(status == 0, out);
  for (const char* name : {"plain.npz", "zipped.npz"}) {
    CAPTURE(name);
    NamedTensors ck = load_checkpoint(dir / name);
    REQUIRE(ck.size() == 3);
    CHECK(ck[0].first == "0.weight");
    CHECK(ck[0].second.dtype() == Dtype::Float32);
    CHECK(ck[0].second.shape() == Shape{3, 4});
    CHECK(ck[0].second.value<float>()(2, 3) == 11.0f / 8);
    CHECK(ck[1].second.value<double>()(1) == -0.2);
    // Integers (NumPy's default for counters) arrive as float64.
    CHECK(ck[2].second.dtype() == Dtype::Float64);
    CHECK(ck[2].second.item() == 7.0);
  }
}

// ---- writers killed mid-save ----

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>

namespace {

std::size_t count_temporaries(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(".ckpt.npz.tmp-", 0) == 0) ++n;
  return n;
}

// Every tensor of a checkpoint written by the child below holds one value, the
// generation that wrote it: a torn file would mix generations or fail to parse.
double generation_of(const NamedTensors& t) {
  const double g = t.at(0).second.cvalue<float>()(0);
  for (const auto& [key, v] : t)
    for (float x : v.cvalue<float>())
      if (x != g) return -1;
  return g;
}

}  // namespace

TEST_CASE(
    "checkpoint: 200 writers killed mid-save leave the last checkpoint and at most one temp file") {
  const fs::path dir = fresh_dir("killed");
  const fs::path path = dir / "ckpt.npz";
  auto model = [](float generation) {  // 2.8 MB, like a small model
    return NamedTensors{{"w", Tensor::full({700, 1000}, generation)},
                        {"b", Tensor::full({1000}, generation)}};
  };
  // Kill at random moments spread over a few saves' time, so that most kills land
  // inside a save (after the temporary file is created, before the rename).
  const auto t0 = std::chrono::steady_clock::now();
  save_checkpoint(path, model(0));
  const auto save_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::mt19937 rng(5);
  std::size_t most_temporaries = 0, kills = 0;
  double last_generation = 0;
  for (int round = 0; round < 200; ++round) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // the writer: saves new generations until it is killed
      for (int g = 1;; ++g) save_checkpoint(path, model(float(round * 1000 + g)));
    }
    ::usleep(std::uniform_int_distribution<useconds_t>(useconds_t(save_us / 2),
                                                       useconds_t(2 * save_us + 1000))(rng));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    kills += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    most_temporaries = std::max(most_temporaries, count_temporaries(dir));
    // The file in place is always a whole checkpoint of one generation, never older
    // than the one seen before.
    NamedTensors loaded;
    REQUIRE_NOTHROW(loaded = load_checkpoint(path));
    const double g = generation_of(loaded);
    REQUIRE(g >= last_generation);
    last_generation = g;
    CHECK(count_temporaries(dir) == 0);  // loading removed what the dead writer left
  }
  MESSAGE("one save takes " << save_us << " us; 200 writers killed with SIGKILL (" << kills
                            << " while running); at most " << most_temporaries
                            << " temporary file(s) at a time; last generation " << last_generation);
  CHECK(kills == 200);
  CHECK(most_temporaries <= 1);
  // A save also clears them: kill one more writer, then save.
  const pid_t pid = ::fork();
  if (pid == 0)
    for (;;) save_checkpoint(path, model(1));
  ::usleep(3000);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  save_checkpoint(path, model(2));
  CHECK(count_temporaries(dir) == 0);
}

TEST_CASE("checkpoint: a live writer's temporary file is not taken for stale") {
  const fs::path dir = fresh_dir("live_writer");
  const fs::path path = dir / "ckpt.npz";
  // A writer stuck inside its write callback (a slow disk): its temporary file exists
  // and is locked; another save to the same path must leave it alone.
  int to_parent[2], to_child[2];
  REQUIRE(::pipe(to_parent) == 0);
  REQUIRE(::pipe(to_child) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    io::write_file_atomic(path, [&](io::ByteSink& sink) {
      sink.write("half", 4);
      char c = 'r';
      (void)!::write(to_parent[1], &c, 1);  // "my temporary file exists"
      (void)!::read(to_child[0], &c, 1);    // wait for the parent's save
    });
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(to_parent[0], &c, 1) == 1);
  CHECK(count_temporaries(dir) == 1);
  save_checkpoint(path, {{"x", Tensor::ones({2})}});
  CHECK(count_temporaries(dir) == 1);  // still there: its writer lives
  (void)!::write(to_child[1], &c, 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(count_temporaries(dir) == 0);
  CHECK(file_bytes(path) == "half");  // the slow writer finished last
}

TEST_CASE("io: ensure_writable_directory creates the folder or says why it cannot") {
  const fs::path dir = fresh_dir("writable");
  io::ensure_writable_directory(dir / "a" / "b");
  CHECK(fs::is_directory(dir / "a" / "b"));
  CHECK(fs::is_empty(dir / "a" / "b"));  // the probe is gone
  std::ofstream(dir / "file") << "x";
  CHECK_THROWS_WITH_AS(io::ensure_writable_directory(dir / "file" / "out", "train --out"),
                       doctest::Contains("train --out: "), io::IoError);
  CHECK_THROWS_WITH_AS(io::ensure_writable_directory(dir / "file", "train --out"),
                       doctest::Contains("cannot create the directory: Not a directory"),
                       io::IoError);
  if (::geteuid() != 0) {  // root writes anywhere
    fs::create_directories(dir / "ro");
    fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    CHECK_THROWS_WITH_AS(io::ensure_writable_directory(dir / "ro"),
                         doctest::Contains("cannot create files in the directory"), io::IoError);
    fs::permissions(dir / "ro", fs::perms::owner_all);
  }
}
