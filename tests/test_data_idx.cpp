// IDX (MNIST) files: round trips, gzip, and the errors for truncated, corrupt and
// over-long files; load_mnist on a small fake data set (and the real one when
// it is on the machine).
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <tapegrad/layers/data/idx.hpp>
#include <vector>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>

namespace fs = std::filesystem;
using namespace tapegrad::io;
using namespace tapegrad::data;

namespace {

struct IdxTempDir {
  fs::path path;
  IdxTempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("tapegrad_test_idx_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~IdxTempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::vector<std::uint8_t> bytes_of(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

/// gzip of `b` (one member).
std::vector<std::uint8_t> gzip(const std::vector<std::uint8_t>& b) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<std::uint8_t> out(deflateBound(&zs, b.size()) + 32);
  zs.next_in = const_cast<Bytef*>(b.data());
  zs.avail_in = static_cast<uInt>(b.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

/// A [3, 4, 5] image-like IDX file's bytes.
std::vector<std::uint8_t> small_idx3() {
  std::vector<std::uint8_t> b = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5};
  for (int i = 0; i < 60; ++i) b.push_back(static_cast<std::uint8_t>(i * 4));
  return b;
}

std::string idx_error(const std::vector<std::uint8_t>& bytes) {
  try {
    parse_idx(bytes, "f.idx");
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("idx: write_idx and read_idx round trip, plain and gzipped") {
  IdxTempDir dir;
  tapegrad::Array<std::uint8_t> images = xt::arange<int>(2 * 3 * 4).reshape({2, 3, 4}) * 10;
  tapegrad::Array<std::uint8_t> labels = {3, 1, 4, 1, 5};
  tapegrad::Array<std::uint8_t> four_d = xt::ones<std::uint8_t>({2, 1, 2, 3}) * 255;
  for (const char* ext : {"", ".gz"}) {
    CAPTURE(ext);
    write_idx(dir / (std::string("images") + ext), images);
    write_idx(dir / (std::string("labels") + ext), labels);
    write_idx(dir / (std::string("four") + ext), four_d);
    const IdxArray a = read_idx(dir / (std::string("images") + ext));
    CHECK(a.dims == std::vector<std::size_t>{2, 3, 4});
    CHECK(a.data == images);
    const IdxArray l = read_idx(dir / (std::string("labels") + ext));
    CHECK(l.dims == std::vector<std::size_t>{5});
    CHECK(l.data == labels);
    CHECK(read_idx(dir / (std::string("four") + ext)).data == four_d);
  }
  // The plain file is exactly header + data, big-endian dims.
  const auto plain = bytes_of(dir / "images");
  REQUIRE(plain.size() == 16 + 24);
  CHECK(std::vector<std::uint8_t>(plain.begin(), plain.begin() + 16) ==
        std::vector<std::uint8_t>{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4});
  CHECK(bytes_of(dir / "images.gz")[0] == 0x1f);
  // gzip is recognised by its magic, not by the name.
  fs::rename(dir / "images.gz", dir / "images-renamed");
  CHECK(read_idx(dir / "images-renamed").data == images);
  // Same data, same bytes (no timestamp in the gzip header).
  write_idx(dir / "again.gz", images);
  write_idx(dir / "again2.gz", images);
  CHECK(bytes_of(dir / "again.gz") == bytes_of(dir / "again2.gz"));

  CHECK_THROWS_WITH_AS(write_idx(dir / "bad", tapegrad::Array<std::uint8_t>::from_shape({2, 0})),
                       doctest::Contains("write_idx"), IoError);
  CHECK_THROWS_WITH_AS(write_idx(dir / "bad", tapegrad::Array<std::uint8_t>::from_shape({})),
                       doctest::Contains("1 to 255 dimensions, the array has 0"), IoError);
}

TEST_CASE("idx: truncated and over-long files name the sizes") {
  IdxTempDir dir;
  auto b = small_idx3();
  auto cut = b;
  cut.pop_back();
  write_bytes(dir / "cut-idx3-ubyte", cut);
  CHECK_THROWS_WITH_AS(read_idx(dir / "cut-idx3-ubyte"),
                       doctest::Contains(("read_idx: " + (dir / "cut-idx3-ubyte").string() +
                                          ": truncated: header says 3x4x5 = 60 bytes of data, "
                                          "file has 59 after the 16-byte header")
                                             .c_str()),
                       IoError);
  write_bytes(dir / "cut.gz", gzip(cut));
  CHECK_THROWS_WITH_AS(read_idx(dir / "cut.gz"),
                       doctest::Contains("truncated: header says 3x4x5 = 60 bytes of data, "
                                         "decompressed data has 59 after the 16-byte header"),
                       IoError);
  auto gz = gzip(b);
  write_bytes(dir / "cutstream.gz", std::vector<std::uint8_t>(gz.begin(), gz.end() - 5));
  CHECK_THROWS_WITH_AS(read_idx(dir / "cutstream.gz"),
                       doctest::Contains("truncated gzip file: the compressed stream ends early"),
                       IoError);

  auto longer = b;
  longer.push_back(0);
  CHECK(
      idx_error(longer).find("trailing data: header says 3x4x5 = 60 bytes of data, file has 61") !=
      std::string::npos);
  CHECK(idx_error(gzip(longer)).find("decompressed data has 61") != std::string::npos);
  auto gz_junk = gz;
  gz_junk.push_back('x');
  CHECK(idx_error(gz_junk).find("1 bytes of trailing data after the gzip stream") !=
        std::string::npos);

  CHECK(idx_error({}).find("truncated: file has 0 bytes, an IDX header needs at least 4") !=
        std::string::npos);
  CHECK(idx_error({0, 0, 8, 3, 0, 0, 0, 3}).find("the header of a 3-d IDX file needs 16") !=
        std::string::npos);
}

TEST_CASE("idx: wrong magic, element type and dimensions are reported") {
  auto b = small_idx3();
  b[1] = 1;
  CHECK(
      idx_error(b).find("f.idx: not an IDX file: wrong magic 00 01 08 03 (expected 00 00 08 03") !=
      std::string::npos);
  b = small_idx3();
  b[2] = 0x0d;
  CHECK(idx_error(b).find("unsupported IDX element type 0x0d (float)") != std::string::npos);
  b = small_idx3();
  b[3] = 0;
  CHECK(idx_error(b).find("0 dimensions") != std::string::npos);
  b = small_idx3();
  b[11] = 0;  // dims 3x0x5
  CHECK(idx_error(b).find("dimension 1 is 0 (dims 3x0x5)") != std::string::npos);
  b = small_idx3();
  for (int i = 4; i < 16; ++i) b[i] = 0xff;
  CHECK(idx_error(b).find("more than 2^40 elements") != std::string::npos);
  // A real MNIST text file, or anything else, is not mistaken for data.
  const std::string text = "hello, this is not an idx file";
  CHECK(idx_error({text.begin(), text.end()}).find("wrong magic 68 65 6c 6c") != std::string::npos);
  // A gzip of garbage is reported as such.
  CHECK(idx_error(gzip({1, 2, 3, 4, 5})).find("wrong magic 01 02 03 04") != std::string::npos);
  auto gz = gzip(small_idx3());
  gz[gz.size() - 6] ^= 1;  // CRC-32 in the gzip trailer
  CHECK(idx_error(gz).find("corrupt gzip file: incorrect data check") != std::string::npos);
}

TEST_CASE("idx: concatenated gzip members read as one file") {
  const auto b = small_idx3();
  auto first = gzip(std::vector<std::uint8_t>(b.begin(), b.begin() + 20));
  const auto second = gzip(std::vector<std::uint8_t>(b.begin() + 20, b.end()));
  first.insert(first.end(), second.begin(), second.end());
  CHECK(parse_idx(first, "cat.gz").data == parse_idx(b, "plain").data);
}

TEST_CASE("idx: fuzz: truncations and byte flips never crash") {
  const auto plain = small_idx3();
  const auto gz = gzip(plain);
  const IdxArray expected = parse_idx(plain, "f");
  std::mt19937 rng(99);
  std::size_t loaded = 0, thrown = 0;
  auto attempt = [&](const std::vector<std::uint8_t>& bytes, bool checksummed) {
    try {
      const IdxArray a = parse_idx(bytes, "f");
      // Plain IDX has no checksum: a flipped data byte loads as different data.
      std::size_t n = 1;
      for (auto d : a.dims) n *= d;
      CHECK(a.data.size() == n);
      if (checksummed) CHECK(a.data == expected.data);
      ++loaded;
    } catch (const IoError&) {
      ++thrown;
    }
  };
  for (const auto* src : {&plain, &gz}) {
    const bool checksummed = src == &gz;
    for (std::size_t n = 0; n < src->size(); ++n) {
      attempt(
          std::vector<std::uint8_t>(src->begin(), src->begin() + static_cast<std::ptrdiff_t>(n)),
          checksummed);
    }
    for (int iter = 0; iter < 3000; ++iter) {
      auto b = *src;
      const int flips = 1 + static_cast<int>(rng() % 3);
      for (int f = 0; f < flips; ++f)
        b[rng() % b.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      attempt(b, checksummed);
    }
  }
  MESSAGE("fuzz: " << loaded << " loaded, " << thrown << " rejected");
  CHECK(thrown > 0);
}

TEST_CASE("idx: load_mnist reads a split, scales to [0, 1] and checks the pair") {
  IdxTempDir dir;
  tapegrad::Array<std::uint8_t> images = xt::zeros<std::uint8_t>({5, 28, 28});
  for (std::size_t i = 0; i < 5; ++i) images(i, i, 2 * i) = static_cast<std::uint8_t>(51 * i);
  tapegrad::Array<std::uint8_t> labels = {7, 2, 1, 0, 4};
  write_idx(dir / "train-images-idx3-ubyte.gz", images);
  write_idx(dir / "train-labels-idx1-ubyte", labels);

  const MnistData train = load_mnist(dir.path, MnistSplit::Train);
  CHECK(std::vector<std::size_t>(train.images.shape().begin(), train.images.shape().end()) ==
        std::vector<std::size_t>{5, 1, 28, 28});
  CHECK(train.labels == labels);
  CHECK(train.images(4, 0, 4, 8) == 204.0f / 255.0f);
  CHECK(train.images(1, 0, 1, 2) == doctest::Approx(0.2f));
  CHECK(train.images(1, 0, 0, 0) == 0.0f);

  CHECK_THROWS_WITH_AS(load_mnist(dir.path, MnistSplit::Test),
                       doctest::Contains(("load_mnist: " + dir.path.string() +
                                          ": no t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz"
                                          " (fetch MNIST with scripts/fetch_mnist.sh")
                                             .c_str()),
                       IoError);
  // The dot spelling of some mirrors.
  write_idx(dir / "t10k-images.idx3-ubyte", images);
  write_idx(dir / "t10k-labels.idx1-ubyte", tapegrad::Array<std::uint8_t>{1, 2, 3, 4});
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, MnistSplit::Test),
                       doctest::Contains("t10k-images.idx3-ubyte has 5 images but "
                                         "t10k-labels.idx1-ubyte has 4 labels"),
                       IoError);
  write_idx(dir / "t10k-labels.idx1-ubyte", tapegrad::Array<std::uint8_t>{1, 2, 3, 4, 10});
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, MnistSplit::Test),
                       doctest::Contains("label 10 at index 4 is outside 0..9"), IoError);
  write_idx(dir / "t10k-labels.idx1-ubyte", tapegrad::Array<std::uint8_t>{{1, 2, 3, 4, 5}});
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, MnistSplit::Test),
                       doctest::Contains("expected labels [N] (1-d), got 1x5"), IoError);
  // The plain file wins over the .gz when both are there.
  write_idx(dir / "train-images-idx3-ubyte",
            tapegrad::Array<std::uint8_t>::from_shape({4, 28, 28}));
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, MnistSplit::Train),
                       doctest::Contains("has 4 images but"), IoError);
}

TEST_CASE("idx: load_mnist on a real data set, when one is installed") {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("TAPEGRAD_MNIST_DIR")) candidates.emplace_back(env);
  candidates.emplace_back(TAPEGRAD_SOURCE_DIR "/data/mnist");
  candidates.emplace_back("/usr/share/datasets/fashion-mnist");  // Debian: dataset-fashion-mnist
  bool found = false;
  for (const auto& dir : candidates) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    found = true;
    CAPTURE(dir.string());
    const MnistData train = load_mnist(dir, MnistSplit::Train);
    const MnistData test = load_mnist(dir, MnistSplit::Test);
    CHECK(train.images.shape(0) == train.labels.size());
    CHECK(test.images.shape(0) == test.labels.size());
    CHECK(train.images.shape(1) == 1);
    CHECK(train.images.shape(2) == 28);
    CHECK(train.images.shape(3) == 28);
    CHECK(xt::amin(train.images)() >= 0.0f);
    CHECK(xt::amax(train.images)() == 1.0f);
    // Every class appears in both splits.
    for (const auto* split : {&train, &test}) {
      std::vector<std::size_t> counts(10, 0);
      for (auto l : split->labels) ++counts[l];
      for (int c = 0; c < 10; ++c) CHECK(counts[static_cast<std::size_t>(c)] > 0);
    }
    MESSAGE(dir.string() << ": " << train.labels.size() << " train, " << test.labels.size()
                         << " test images");
  }
  if (!found)
    MESSAGE("skipped: no MNIST directory (set TAPEGRAD_MNIST_DIR or run scripts/fetch_mnist.sh)");
}
