// Checkpoint format: .npz round trips, interop with NumPy, strict and safe loading
// of broken files, and atomic writes.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <tapegrad/core/io/atomic_file.hpp>
#include <tapegrad/core/io/npz.hpp>
#include <vector>
#include <xtensor/xbuilder.hpp>

namespace fs = std::filesystem;
using namespace tapegrad::io;

namespace {

/// A fresh directory under the system temp dir, removed at the end of the test.
struct NpzTempDir {
  fs::path path;
  NpzTempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("tapegrad_test_npz_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~NpzTempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::vector<std::uint8_t> file_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void put_file(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

/// Bitwise equality of two npz arrays (NaN == NaN, -0.0 != 0.0, same shape and dtype).
bool same_array(const NpzArray& a, const NpzArray& b) {
  if (a.index() != b.index() || npz_shape(a) != npz_shape(b)) return false;
  return std::visit(
      [&](const auto& x) {
        using A = std::decay_t<decltype(x)>;
        const auto& y = std::get<A>(b);
        return x.size() == 0 ||
               std::memcmp(x.data(), y.data(), x.size() * sizeof(typename A::value_type)) == 0;
      },
      a);
}

bool same_dict(const NpzDict& a, const NpzDict& b) {
  if (a.keys() != b.keys()) return false;
  for (const auto& [k, v] : a)
    if (!same_array(v, b.at(k))) return false;
  return true;
}

NpzDict sample_dict() {
  tapegrad::Array<float> w = xt::arange<float>(24.0f).reshape({2, 3, 2, 2}) * 0.5f - 3.0f;
  tapegrad::Array<float> b = {std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(), -0.0f,
                              std::numeric_limits<float>::denorm_min()};
  tapegrad::Array<std::int64_t> step = {std::numeric_limits<std::int64_t>::min(), -1, 0, 7,
                                        std::numeric_limits<std::int64_t>::max()};
  tapegrad::Array<double> scalar = tapegrad::Array<double>::from_shape({});
  scalar() = 0.1;  // 0-d
  tapegrad::Array<double> empty = tapegrad::Array<double>::from_shape({2, 0, 5});
  tapegrad::Array<std::int64_t> scalar_i = tapegrad::Array<std::int64_t>::from_shape({});
  scalar_i() = 42;
  NpzDict d;
  d.insert("conv1.weight", w);
  d.insert("conv1.bias", b);
  d.insert("step", step);
  d.insert("scalar", scalar);
  d.insert("empty", empty);
  d.insert("opt.state.0.count", scalar_i);
  return d;
}

// ---- hand-built archives, to feed the loader what save_npz never writes ----

void put16(std::vector<std::uint8_t>& b, unsigned v) {
  b.push_back(v & 0xff);
  b.push_back((v >> 8) & 0xff);
}
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back((v >> (8 * i)) & 0xff);
}

/// An .npy member with a hand-written header dict and raw data bytes.
std::vector<std::uint8_t> npy(const std::string& dict, const std::vector<std::uint8_t>& data,
                              int major = 1) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::vector<std::uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major),
                                 0};
  put16(b, static_cast<unsigned>(h.size()));
  b.insert(b.end(), h.begin(), h.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

template <class T>
std::vector<std::uint8_t> raw(std::initializer_list<T> values) {
  std::vector<std::uint8_t> b(values.size() * sizeof(T));
  std::memcpy(b.data(), std::data(values), b.size());
  return b;
}

/// A zip of the given members, stored or raw-deflated (method 8).
std::vector<std::uint8_t> zip_of(
    const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& members,
    bool compress = false) {
  std::vector<std::uint8_t> out, cd;
  for (const auto& [name, content] : members) {
    std::vector<std::uint8_t> data = content;
    if (compress) {
      z_stream zs{};
      REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
      data.resize(deflateBound(&zs, content.size()));
      zs.next_in = const_cast<Bytef*>(content.data());
      zs.avail_in = static_cast<uInt>(content.size());
      zs.next_out = data.data();
      zs.avail_out = static_cast<uInt>(data.size());
      REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
      data.resize(zs.total_out);
      deflateEnd(&zs);
    }
    const auto crc =
        static_cast<std::uint32_t>(crc32(0, content.data(), static_cast<uInt>(content.size())));
    const auto offset = static_cast<std::uint32_t>(out.size());
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, 0);
    put16(out, compress ? 8 : 0);
    put16(out, 0);
    put16(out, 0x21);
    put32(out, crc);
    put32(out, static_cast<std::uint32_t>(data.size()));
    put32(out, static_cast<std::uint32_t>(content.size()));
    put16(out, static_cast<unsigned>(name.size()));
    put16(out, 0);
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), data.begin(), data.end());
    put32(cd, 0x02014b50);
    put16(cd, 20);
    put16(cd, 20);
    put16(cd, 0);
    put16(cd, compress ? 8 : 0);
    put16(cd, 0);
    put16(cd, 0x21);
    put32(cd, crc);
    put32(cd, static_cast<std::uint32_t>(data.size()));
    put32(cd, static_cast<std::uint32_t>(content.size()));
    put16(cd, static_cast<unsigned>(name.size()));
    for (int i = 0; i < 4; ++i) put16(cd, 0);
    put32(cd, 0);
    put32(cd, offset);
    cd.insert(cd.end(), name.begin(), name.end());
  }
  const auto cd_offset = static_cast<std::uint32_t>(out.size());
  out.insert(out.end(), cd.begin(), cd.end());
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<unsigned>(members.size()));
  put16(out, static_cast<unsigned>(members.size()));
  put32(out, static_cast<std::uint32_t>(cd.size()));
  put32(out, cd_offset);
  put16(out, 0);
  return out;
}

/// The message parse_npz throws for `bytes` ("" if it loads).
std::string parse_error(const std::vector<std::uint8_t>& bytes) {
  try {
    parse_npz(bytes, "x.npz");
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

bool have_numpy() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
  return ok;
}

/// Runs a Python program with /usr/bin/python3; true when it exits 0.
bool run_python(const NpzTempDir& dir, const std::string& program, const std::string& args) {
  const fs::path script = dir / "check.py";
  std::ofstream(script) << program;
  const std::string cmd = "/usr/bin/python3 " + script.string() + " " + args;
  const int status = std::system(cmd.c_str());
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// A sink that passes `limit` bytes through and then fails, as a full disk would.
class FailingSink final : public ByteSink {
 public:
  FailingSink(ByteSink& inner, std::size_t limit) : inner_(inner), limit_(limit) {}
  using ByteSink::write;
  void write(const void* data, std::size_t size) override {
    const std::size_t room = limit_ - static_cast<std::size_t>(inner_.bytes_written());
    if (size > room) {
      inner_.write(data, room);
      throw IoError("simulated: no space left on device");
    }
    inner_.write(data, size);
  }
  std::uint64_t bytes_written() const override { return inner_.bytes_written(); }

 private:
  ByteSink& inner_;
  std::size_t limit_;
};

std::size_t count_entries(const fs::path& dir) {
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("npz: round trip of float, double and int64 arrays, 0-d and empty included") {
  NpzTempDir dir;
  const NpzDict d = sample_dict();
  save_npz(dir / "ckpt.npz", d);
  const NpzDict back = load_npz(dir / "ckpt.npz");
  CHECK(back.keys() == d.keys());
  CHECK(same_dict(back, d));
  CHECK(back.get<double>("scalar").dimension() == 0);
  CHECK(back.get<double>("scalar")() == 0.1);
  CHECK(npz_shape(back.at("empty")) == std::vector<std::size_t>{2, 0, 5});
  CHECK(back.get<float>("conv1.weight")(1, 2, 1, 1) == 23 * 0.5f - 3.0f);
  // Same arrays, same bytes: the archive holds no timestamps.
  MemorySink a, b;
  write_npz(a, d);
  write_npz(b, back);
  CHECK(a.bytes() == b.bytes());
  CHECK(file_bytes(dir / "ckpt.npz") == a.bytes());
}

TEST_CASE("npz: an empty dict is a valid archive") {
  NpzTempDir dir;
  save_npz(dir / "empty.npz", NpzDict{});
  CHECK(load_npz(dir / "empty.npz").empty());
}

TEST_CASE("npz: npy headers are padded so array data starts at a multiple of 64") {
  MemorySink s;
  write_npz(s, NpzDict{{"w", tapegrad::Array<float>{1.0f, 2.0f}}});
  const auto& b = s.bytes();
  const std::size_t npy_start = 30 + std::string("w.npy").size();
  REQUIRE(b.size() > npy_start + 10);
  const std::size_t header_len = b[npy_start + 8] | (b[npy_start + 9] << 8);
  CHECK((10 + header_len) % 64 == 0);
  const std::string header(b.begin() + npy_start + 10, b.begin() + npy_start + 10 + header_len);
  CHECK(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 0) == 0);
  CHECK(header.back() == '\n');
}

TEST_CASE("npz: NpzDict keeps order, refuses duplicates and names missing keys") {
  NpzDict d;
  d.insert("b", tapegrad::Array<double>{1.0});
  d.insert("a", tapegrad::Array<double>{2.0});
  CHECK(d.keys() == std::vector<std::string>{"b", "a"});
  CHECK_THROWS_WITH_AS(d.insert("a", tapegrad::Array<double>{3.0}),
                       doctest::Contains("duplicate key 'a'"), std::invalid_argument);
  CHECK_THROWS_AS(d.insert("", tapegrad::Array<double>{3.0}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(d.at("c"), doctest::Contains("no key 'c' (keys: 'b', 'a')"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(d.get<float>("a"),
                       doctest::Contains("holds dtype '<f8', not the requested '<f4'"),
                       std::invalid_argument);
  d.insert_or_assign("a", tapegrad::Array<float>{4.0f});
  CHECK(d.get<float>("a")(0) == 4.0f);
}

TEST_CASE("npz: NumPy reads what tapegrad writes") {
  if (!have_numpy()) {
    MESSAGE("skipped: /usr/bin/python3 with numpy not found");
    return;
  }
  NpzTempDir dir;
  save_npz(dir / "ckpt.npz", sample_dict());
  const std::string program = R"PY(
import sys, numpy as np
d = np.load(sys.argv[1])
assert d.files == ['conv1.weight', 'conv1.bias', 'step', 'scalar', 'empty', 'opt.state.0.count'], d.files
w = d['conv1.weight']
assert w.dtype == np.float32 and w.shape == (2, 3, 2, 2) and w.flags.c_contiguous
assert np.array_equal(w, np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) * 0.5 - 3)
b = d['conv1.bias']
assert b.dtype == np.float32 and np.isnan(b[0]) and b[1] == np.inf and b[2] == 0 and np.signbit(b[2])
assert b[3] == np.finfo(np.float32).smallest_subnormal
s = d['step']
assert s.dtype == np.int64 and list(s) == [np.iinfo(np.int64).min, -1, 0, 7, np.iinfo(np.int64).max]
assert d['scalar'].shape == () and d['scalar'].dtype == np.float64 and d['scalar'] == 0.1
assert d['empty'].shape == (2, 0, 5) and d['empty'].dtype == np.float64
assert d['opt.state.0.count'].shape == () and d['opt.state.0.count'] == 42
)PY";
  CHECK(run_python(dir, program, (dir / "ckpt.npz").string()));
}

TEST_CASE("npz: tapegrad reads numpy.savez and numpy.savez_compressed") {
  if (!have_numpy()) {
    MESSAGE("skipped: /usr/bin/python3 with numpy not found");
    return;
  }
  NpzTempDir dir;
  const std::string program = R"PY(
import sys, numpy as np
arrays = dict(
    a=np.arange(6, dtype=np.float32).reshape(2, 3),
    b=np.float64(2.5),
    c=np.arange(5, dtype=np.int64) - 2,
    t=np.arange(6.0).reshape(2, 3).T,             # F-contiguous: fortran_order True
    t3=np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4)),
    i4=np.array([-1, 2**31 - 1], dtype=np.int32),
    u1=np.array([[0, 255]], dtype=np.uint8),
    bo=np.array([True, False, True]),
    e=np.zeros((0, 4), dtype=np.float32),
)
arrays['conv1.weight'] = np.linspace(-1, 1, 12).reshape(3, 4)
np.savez(sys.argv[1] + '/plain.npz', **arrays)
np.savez_compressed(sys.argv[1] + '/compressed.npz', **arrays)
np.savez(sys.argv[1] + '/positional.npz', np.ones(2), np.zeros(3))
np.savez(sys.argv[1] + '/bigendian.npz', x=np.arange(3, dtype='>f8'))
np.savez(sys.argv[1] + '/complex.npz', z=np.zeros(2, dtype=np.complex128))
np.savez(sys.argv[1] + '/object.npz', o=np.array([1, 'a'], dtype=object))
np.savez(sys.argv[1] + '/uint64.npz', u=np.array([1], dtype=np.uint64))
np.save(sys.argv[1] + '/single.npy', np.ones(3))
)PY";
  REQUIRE(run_python(dir, program, dir.path.string()));

  for (const char* name : {"plain.npz", "compressed.npz"}) {
    CAPTURE(name);
    const NpzDict d = load_npz(dir / name);
    CHECK(d.keys() == std::vector<std::string>{"a", "b", "c", "t", "t3", "i4", "u1", "bo", "e",
                                               "conv1.weight"});
    CHECK(d.get<float>("a") == tapegrad::Array<float>{{0, 1, 2}, {3, 4, 5}});
    CHECK(d.get<double>("b").dimension() == 0);
    CHECK(d.get<double>("b")() == 2.5);
    CHECK(d.get<std::int64_t>("c") == tapegrad::Array<std::int64_t>{-2, -1, 0, 1, 2});
    CHECK(d.get<double>("t") == tapegrad::Array<double>{{0, 3}, {1, 4}, {2, 5}});
    const auto& t3 = d.get<float>("t3");
    REQUIRE(npz_shape(d.at("t3")) == std::vector<std::size_t>{2, 3, 4});
    CHECK(t3(1, 2, 3) == 23.0f);
    CHECK(t3(0, 1, 2) == 6.0f);
    CHECK(d.get<std::int64_t>("i4") == tapegrad::Array<std::int64_t>{-1, 2147483647});
    CHECK(d.get<std::int64_t>("u1") == tapegrad::Array<std::int64_t>{{0, 255}});
    CHECK(d.get<std::int64_t>("bo") == tapegrad::Array<std::int64_t>{1, 0, 1});
    CHECK(npz_shape(d.at("e")) == std::vector<std::size_t>{0, 4});
    CHECK(d.get<double>("conv1.weight")(2, 3) == 1.0);
    CHECK(d.get<double>("conv1.weight")(0, 0) == -1.0);
  }
  CHECK(load_npz(dir / "positional.npz").keys() == std::vector<std::string>{"arr_0", "arr_1"});

  CHECK_THROWS_WITH_AS(load_npz(dir / "bigendian.npz"),
                       doctest::Contains("member 'x.npy': unsupported dtype '>f8' (big-endian)"),
                       IoError);
  CHECK_THROWS_WITH_AS(load_npz(dir / "complex.npz"),
                       doctest::Contains("member 'z.npy': unsupported dtype '<c16'"), IoError);
  CHECK_THROWS_WITH_AS(load_npz(dir / "object.npz"),
                       doctest::Contains("member 'o.npy': unsupported dtype '|O' (Python objects)"),
                       IoError);
  CHECK_THROWS_WITH_AS(load_npz(dir / "uint64.npz"), doctest::Contains("unsupported dtype '<u8'"),
                       IoError);
  CHECK_THROWS_WITH_AS(load_npz(dir / "single.npy"),
                       doctest::Contains("single.npy: this is a .npy array, not an .npz archive"),
                       IoError);
}

TEST_CASE("npz: clear errors for missing files, wrong magic and truncation") {
  NpzTempDir dir;
  CHECK_THROWS_WITH_AS(
      load_npz(dir / "nope.npz"),
      doctest::Contains(("load_npz: " + (dir / "nope.npz").string() + ": cannot open").c_str()),
      IoError);
  CHECK_THROWS_WITH_AS(load_npz(dir.path), doctest::Contains("not a regular file"), IoError);

  put_file(dir / "text.npz", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!',
                              '!', '!', '!', '!', '!', '!', '!', '!', '!', '!', '!', '!'});
  CHECK_THROWS_WITH_AS(load_npz(dir / "text.npz"),
                       doctest::Contains("text.npz: not an npz (zip) archive: wrong magic (file "
                                         "starts with 68 65 6c 6c, expected 50 4b 03 04"),
                       IoError);
  put_file(dir / "empty.npz", {});
  CHECK_THROWS_WITH_AS(load_npz(dir / "empty.npz"), doctest::Contains("(empty file)"), IoError);

  save_npz(dir / "good.npz", sample_dict());
  auto bytes = file_bytes(dir / "good.npz");
  bytes.resize(bytes.size() / 2);
  put_file(dir / "half.npz", bytes);
  CHECK_THROWS_WITH_AS(load_npz(dir / "half.npz"),
                       doctest::Contains("half.npz: truncated or corrupt zip archive: no "
                                         "end-of-central-directory record"),
                       IoError);
}

TEST_CASE("npz: bad npy content inside a well-formed zip gives errors naming the member") {
  const auto f8 = raw<double>({1.0, 2.0});
  struct Case {
    const char* what;
    std::vector<std::uint8_t> member;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"complex", npy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", f8),
       "member 'w.npy': unsupported dtype '<c16'"},
      {"float16",
       npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", raw<std::uint16_t>({0, 0})),
       "unsupported dtype '<f2'"},
      {"structured", npy("{'descr': [('x', '<f8')], 'fortran_order': False, 'shape': (2,), }", f8),
       "structured (record) dtypes are not supported"},
      {"short data", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f8),
       "member 'w.npy': truncated: shape (3,) of '<f8' needs 24 bytes of data, the member has 16"},
      {"long data", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", f8),
       "size mismatch: shape (1,) of '<f8' needs 8 bytes of data, the member has 16"},
      {"huge shape",
       npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", f8),
       "has too many elements"},
      {"missing key", npy("{'descr': '<f8', 'shape': (2,), }", f8), "missing key 'fortran_order'"},
      {"extra key", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", f8),
       "unsupported value for 'x'"},
      {"duplicate key",
       npy("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", f8),
       "key 'descr' appears twice"},
      {"bad shape", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", f8),
       "expected a non-negative integer"},
      {"bad fortran", npy("{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }", f8),
       "unsupported value for 'fortran_order'"},
      {"not a dict", npy("hello", f8), "bad npy header: expected '{'"},
      {"version", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f8, 9),
       "unsupported npy format version 9.0"},
      {"npy magic",
       {'n', 'o', 't', ' ', 'n', 'p', 'y', '!', 0, 0},
       "not an npy array: wrong magic"},
      {"cut header",
       {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0x00, '{'},
       "truncated: npy header at offset 10 needs 255 bytes, but the data ends at offset 11"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    CHECK_THROWS_WITH_AS(parse_npz(zip_of({{"w.npy", c.member}}), "x.npz"),
                         doctest::Contains(c.message), IoError);
  }
  // Python 2 era headers ("2L") and version 2.0 headers are fine.
  const auto ok = parse_npz(
      zip_of({{"w.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }", f8)}}),
      "x.npz");
  CHECK(ok.get<double>("w") == tapegrad::Array<double>{1.0, 2.0});
  std::vector<std::uint8_t> v2 = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0};
  const std::string h2 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n";
  put32(v2, static_cast<std::uint32_t>(h2.size()));
  v2.insert(v2.end(), h2.begin(), h2.end());
  v2.insert(v2.end(), f8.begin(), f8.end());
  CHECK(parse_npz(zip_of({{"w.npy", v2}}), "x.npz").get<double>("w")(1) == 2.0);
  CHECK_THROWS_WITH_AS(parse_npz(zip_of({{"w.txt", v2}}), "x.npz"),
                       doctest::Contains("member 'w.txt': not a .npy array"), IoError);
  CHECK_THROWS_WITH_AS(parse_npz(zip_of({{"w.npy", v2}, {"w.npy", v2}}), "x.npz"),
                       doctest::Contains("member 'w.npy': duplicate member"), IoError);
}

TEST_CASE("npz: fortran_order True is read into C order") {
  // [[1, 2, 3], [4, 5, 6]] stored column by column.
  const auto member = npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                          raw<double>({1, 4, 2, 5, 3, 6}));
  const auto d = parse_npz(zip_of({{"m.npy", member}}), "x.npz");
  CHECK(d.get<double>("m") == tapegrad::Array<double>{{1, 2, 3}, {4, 5, 6}});
}

TEST_CASE("npz: zip structure errors: CRC, bad offsets, unsupported methods") {
  const auto member =
      npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", raw<double>({1.0, 2.0}));
  const auto good = zip_of({{"w.npy", member}});
  REQUIRE(parse_error(good).empty());

  auto bad = good;
  bad[30 + 5 + member.size() - 1] ^= 0x40;  // last data byte
  CHECK(parse_error(bad).find("member 'w.npy': CRC-32 mismatch (data at offset 35)") !=
        std::string::npos);

  const std::size_t cd = 30 + 5 + member.size();
  bad = good;
  bad[cd + 10] = 12;  // bzip2
  CHECK(parse_error(bad).find("unsupported compression method 12") != std::string::npos);

  bad = good;
  bad[cd + 42] = 0x10;  // local header offset -> 16
  CHECK(parse_error(bad).find("bad local header signature") != std::string::npos);

  bad = good;
  bad[cd + 43] = 0x70;  // local header offset far past the data
  CHECK(parse_error(bad).find("lies outside the member data") != std::string::npos);

  bad = good;
  bad[cd + 20] = 0xf0;  // compressed size larger than the data
  CHECK(parse_error(bad).find("runs past the member data") != std::string::npos);

  bad = good;
  bad[cd + 8] |= 1;  // encrypted
  CHECK(parse_error(bad).find("encrypted members are not supported") != std::string::npos);

  bad = good;
  bad[bad.size() - 22 + 8] = 3;  // entry counts
  bad[bad.size() - 22 + 10] = 3;
  CHECK(parse_error(bad).find("cannot fit in a") != std::string::npos);

  // Deflated members: a corrupted stream is reported, not crashed on.
  auto deflated = zip_of({{"w.npy", member}}, true);
  REQUIRE(parse_npz(deflated, "x.npz").get<double>("w") == tapegrad::Array<double>{1.0, 2.0});
  deflated[30 + 5 + 2] ^= 0xff;
  const std::string e = parse_error(deflated);
  CHECK(e.find("member 'w.npy'") != std::string::npos);
}

TEST_CASE("npz: fuzz: every truncation and random byte flips load equal data or throw IoError") {
  NpzDict small;
  small.insert("w", tapegrad::Array<float>{{1.5f, -2.0f}, {3.0f, 4.25f}});
  small.insert("n", tapegrad::Array<std::int64_t>{7});
  small.insert("s", tapegrad::Array<double>::from_shape({}));
  MemorySink sink;
  write_npz(sink, small);
  const std::vector<std::vector<std::uint8_t>> archives = {
      sink.bytes(),
      zip_of({{"w.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                            raw<float>({1.5f, -2.0f, 3.0f, 4.25f}))},
              {"t.npy", npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                            raw<double>({1, 4, 2, 5, 3, 6}))}},
             true),
  };
  std::mt19937 rng(1234);
  std::size_t loaded = 0, thrown = 0;
  for (const auto& archive : archives) {
    const NpzDict expected = parse_npz(archive, "x.npz");
    auto attempt = [&](const std::vector<std::uint8_t>& bytes) {
      try {
        const NpzDict got = parse_npz(bytes, "x.npz");
        CHECK(same_dict(got, expected));
        ++loaded;
      } catch (const IoError&) {
        ++thrown;
      }
    };
    for (std::size_t n = 0; n < archive.size(); ++n) {
      attempt(std::vector<std::uint8_t>(archive.begin(),
                                        archive.begin() + static_cast<std::ptrdiff_t>(n)));
    }
    for (int iter = 0; iter < 3000; ++iter) {
      auto bytes = archive;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        bytes[rng() % bytes.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      }
      if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
      if (rng() % 8 == 0) bytes.push_back(static_cast<std::uint8_t>(rng()));
      attempt(bytes);
    }
  }
  MESSAGE("fuzz: " << loaded << " loaded equal, " << thrown << " rejected");
  CHECK(thrown > 0);
}

TEST_CASE("npz: a failed write leaves the previous checkpoint byte-identical") {
  NpzTempDir dir;
  const fs::path path = dir / "ckpt.npz";
  save_npz(path, sample_dict());
  const auto before = file_bytes(path);
  REQUIRE(count_entries(dir.path) == 1);

  NpzDict bigger = sample_dict();
  bigger.insert("extra", tapegrad::Array<double>::from_shape({1000}));
  // The disk "fills up" halfway through the new checkpoint.
  CHECK_THROWS_WITH_AS(write_file_atomic(path,
                                         [&](ByteSink& sink) {
                                           FailingSink failing(sink, before.size() / 2);
                                           write_npz(failing, bigger);
                                         }),
                       "simulated: no space left on device", IoError);
  CHECK(file_bytes(path) == before);
  CHECK(count_entries(dir.path) == 1);  // the temporary file is gone

  // Any exception from the writer, not only IoError, is handled the same way.
  CHECK_THROWS_AS(write_file_atomic(path,
                                    [](ByteSink& sink) {
                                      sink.write("partial", 7);
                                      throw std::runtime_error("serialiser bug");
                                    }),
                  std::runtime_error);
  CHECK(file_bytes(path) == before);
  CHECK(count_entries(dir.path) == 1);
  CHECK(same_dict(load_npz(path), sample_dict()));

  // A directory that does not exist: clear error, nothing created.
  CHECK_THROWS_WITH_AS(save_npz(dir / "missing" / "ckpt.npz", sample_dict()),
                       doctest::Contains(("save_npz: " + (dir / "missing" / "ckpt.npz").string() +
                                          ": cannot create temporary file")
                                             .c_str()),
                       IoError);
  // A successful save replaces the file.
  save_npz(path, bigger);
  CHECK(same_dict(load_npz(path), bigger));
  CHECK(count_entries(dir.path) == 1);
}

TEST_CASE("npz: write_file_atomic keeps the permissions of the file it replaces") {
  NpzTempDir dir;
  const fs::path path = dir / "f.bin";
  const std::vector<std::uint8_t> one = {1, 2, 3};
  write_file_atomic(path, one);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  const std::vector<std::uint8_t> two = {4, 5};
  write_file_atomic(path, two);
  CHECK(file_bytes(path) == two);
  CHECK(fs::status(path).permissions() ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  CHECK_THROWS_WITH_AS(write_file_atomic(dir.path, two), doctest::Contains("is a directory"),
                       IoError);
}
