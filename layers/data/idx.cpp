#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <tapegrad/layers/data/idx.hpp>

namespace tapegrad::data {

using io::ByteSink;
using io::IoError;
using io::read_file_bytes;
using io::write_file_atomic;
namespace {

constexpr std::uint8_t kTypeUByte = 0x08;
// More elements than this cannot be a real data set: refusing early keeps a
// corrupt header from asking for terabytes.
constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 40;

struct Ctx {
  const char* function;
  const std::filesystem::path& file;
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(std::string(function) + ": " + file.string() + ": " + what);
  }
};

std::string hex_bytes(const std::uint8_t* p, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    if (i > 0) s += ' ';
    s += buf;
  }
  return s;
}

const char* idx_type_name(std::uint8_t t) {
  switch (t) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "short";
    case 0x0C:
      return "int";
    case 0x0D:
      return "float";
    case 0x0E:
      return "double";
    default:
      return "unknown";
  }
}

/// Bytes of the file content in order, from the plain file or through gunzip.
class Source {
 public:
  virtual ~Source() = default;
  /// Copies up to n bytes into dst; fewer only at the end of the content.
  virtual std::size_t read(std::uint8_t* dst, std::size_t n) = 0;
  /// Content bytes handed out so far.
  virtual std::uint64_t position() const = 0;
  /// Content bytes not yet read, when known without decompressing.
  virtual std::optional<std::uint64_t> remaining() const = 0;
  /// How messages refer to the content: "file" or "decompressed data".
  virtual const char* noun() const = 0;
};

class PlainSource final : public Source {
 public:
  explicit PlainSource(std::span<const std::uint8_t> in) : in_(in) {}
  std::size_t read(std::uint8_t* dst, std::size_t n) override {
    const std::size_t k = std::min(n, in_.size() - pos_);
    if (k > 0) std::memcpy(dst, in_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  std::uint64_t position() const override { return pos_; }
  std::optional<std::uint64_t> remaining() const override { return in_.size() - pos_; }
  const char* noun() const override { return "file"; }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

/// Incremental gunzip. Concatenated gzip members are one stream (as gzip -d
/// treats them); anything else after the last member is an error.
class GzipSource final : public Source {
 public:
  GzipSource(std::span<const std::uint8_t> in, const Ctx& ctx) : in_(in), ctx_(ctx) {
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) ctx_.fail("zlib inflateInit2 failed");
  }
  ~GzipSource() override { inflateEnd(&zs_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  std::size_t read(std::uint8_t* dst, std::size_t n) override {
    std::size_t got = 0;
    while (got < n && !done_) {
      if (zs_.avail_in == 0 && fed_ < in_.size()) {
        const std::size_t k = std::min<std::size_t>(in_.size() - fed_, std::size_t{1} << 30);
        zs_.next_in = const_cast<Bytef*>(in_.data() + fed_);
        zs_.avail_in = static_cast<uInt>(k);
        fed_ += k;
      }
      const std::size_t want = std::min<std::size_t>(n - got, std::size_t{1} << 30);
      zs_.next_out = dst + got;
      zs_.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      const std::size_t produced = want - zs_.avail_out;
      got += produced;
      out_ += produced;
      if (rc == Z_STREAM_END) {
        const std::uint64_t at = fed_ - zs_.avail_in;  // compressed offset
        if (at == in_.size()) {
          done_ = true;
        } else if (in_.size() - at >= 2 && in_[at] == 0x1f && in_[at + 1] == 0x8b) {
          inflateReset(&zs_);
        } else {
          ctx_.fail("corrupt gzip file: " + std::to_string(in_.size() - at) +
                    " bytes of trailing data after the gzip stream, at offset " +
                    std::to_string(at));
        }
      } else if (rc == Z_BUF_ERROR) {
        // No progress possible: with output room left, that means no more input.
        if (zs_.avail_in == 0 && fed_ == in_.size()) {
          ctx_.fail("truncated gzip file: the compressed stream ends early, after " +
                    std::to_string(out_) + " decompressed bytes (file has " +
                    std::to_string(in_.size()) + " bytes)");
        }
        if (zs_.avail_in != 0) ctx_.fail("corrupt gzip file: zlib made no progress");
      } else if (rc != Z_OK) {
        ctx_.fail("corrupt gzip file: " +
                  std::string(zs_.msg != nullptr ? zs_.msg : "zlib error " + std::to_string(rc)) +
                  " (at compressed offset " + std::to_string(fed_ - zs_.avail_in) + ")");
      }
    }
    return got;
  }
  std::uint64_t position() const override { return out_; }
  std::optional<std::uint64_t> remaining() const override { return std::nullopt; }
  const char* noun() const override { return "decompressed data"; }

 private:
  std::span<const std::uint8_t> in_;
  const Ctx& ctx_;
  z_stream zs_{};
  std::size_t fed_ = 0;
  std::uint64_t out_ = 0;
  bool done_ = false;
};

std::string dims_str(const std::vector<std::size_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

IdxArray parse_source(Source& src, const Ctx& ctx) {
  std::uint8_t magic[4];
  const std::size_t got_magic = src.read(magic, 4);
  if (got_magic < 4) {
    ctx.fail("truncated: " + std::string(src.noun()) + " has " + std::to_string(got_magic) +
             " bytes, an IDX header needs at least 4");
  }
  if (magic[0] != 0 || magic[1] != 0) {
    ctx.fail("not an IDX file: wrong magic " + hex_bytes(magic, 4) +
             " (expected 00 00 08 03 for images or 00 00 08 01 for labels)");
  }
  if (magic[2] != kTypeUByte) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", magic[2]);
    ctx.fail(std::string("unsupported IDX element type ") + buf + " (" + idx_type_name(magic[2]) +
             "); only 0x08 (unsigned byte) is supported");
  }
  const std::size_t ndim = magic[3];
  if (ndim == 0) ctx.fail("IDX header has 0 dimensions (magic " + hex_bytes(magic, 4) + ")");

  std::vector<std::uint8_t> dim_bytes(4 * ndim);
  const std::size_t got_dims = src.read(dim_bytes.data(), dim_bytes.size());
  if (got_dims < dim_bytes.size()) {
    ctx.fail("truncated: " + std::string(src.noun()) + " has " + std::to_string(4 + got_dims) +
             " bytes, the header of a " + std::to_string(ndim) + "-d IDX file needs " +
             std::to_string(4 + dim_bytes.size()));
  }
  std::vector<std::size_t> dims(ndim);
  std::uint64_t count = 1;
  for (std::size_t i = 0; i < ndim; ++i) {
    const std::uint8_t* p = &dim_bytes[4 * i];
    dims[i] =
        (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
  }
  for (std::size_t i = 0; i < ndim; ++i) {
    if (dims[i] == 0)
      ctx.fail("dimension " + std::to_string(i) + " is 0 (dims " + dims_str(dims) + ")");
    if (count > kMaxElements / dims[i]) {
      ctx.fail("header dims " + dims_str(dims) +
               " give more than 2^40 elements: not a plausible data set");
    }
    count *= dims[i];
  }
  const std::uint64_t header = 4 + 4 * ndim;
  const auto size_error = [&](std::uint64_t have, bool at_least) {
    ctx.fail(std::string(have < count ? "truncated" : "trailing data") + ": header says " +
             dims_str(dims) + " = " + std::to_string(count) + " bytes of data, " + src.noun() +
             " has " + (at_least ? "at least " : "") + std::to_string(have) + " after the " +
             std::to_string(header) + "-byte header");
  };

  IdxArray out;
  out.dims = dims;
  if (const auto rem = src.remaining()) {
    // Plain file: the size is known, so check it before allocating anything.
    if (*rem != count) size_error(*rem, false);
    out.data = tapegrad::Array<std::uint8_t>::from_shape(dims);
    src.read(out.data.data(), static_cast<std::size_t>(count));
    return out;
  }
  // Compressed: the real size shows only while inflating. Grow the buffer as data
  // arrives so a corrupt header cannot make us allocate what the file never had.
  std::vector<std::uint8_t> buf;
  std::size_t have = 0;
  while (have < count) {
    const std::size_t next = static_cast<std::size_t>(
        std::min<std::uint64_t>(count, std::max<std::uint64_t>(std::uint64_t{1} << 20, 2 * have)));
    buf.resize(next);
    const std::size_t want = next - have;
    const std::size_t got = src.read(buf.data() + have, want);
    have += got;
    if (got < want) size_error(have, false);
  }
  std::uint8_t probe[4096];
  std::uint64_t extra = src.read(probe, sizeof probe);
  if (extra > 0) {
    // Count a little further for the message, but not through a whole bomb.
    for (int i = 0; i < 256; ++i) {
      const std::size_t k = src.read(probe, sizeof probe);
      extra += k;
      if (k < sizeof probe) break;
    }
    size_error(count + extra, extra >= 257 * sizeof probe);
  }
  out.data = tapegrad::Array<std::uint8_t>::from_shape(dims);
  std::memcpy(out.data.data(), buf.data(), static_cast<std::size_t>(count));
  return out;
}

bool is_gzip(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

}  // namespace

IdxArray parse_idx(std::span<const std::uint8_t> bytes, const std::filesystem::path& name,
                   const char* function) {
  const Ctx ctx{function, name};
  if (is_gzip(bytes)) {
    GzipSource src(bytes, ctx);
    return parse_source(src, ctx);
  }
  PlainSource src(bytes);
  return parse_source(src, ctx);
}

IdxArray read_idx(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path, "read_idx");
  return parse_idx(bytes, path, "read_idx");
}

void write_idx(const std::filesystem::path& path, const tapegrad::Array<std::uint8_t>& data) {
  const Ctx ctx{"write_idx", path};
  const std::size_t ndim = data.dimension();
  if (ndim < 1 || ndim > 255) {
    ctx.fail("an IDX file has 1 to 255 dimensions, the array has " + std::to_string(ndim));
  }
  std::vector<std::uint8_t> header = {0, 0, kTypeUByte, static_cast<std::uint8_t>(ndim)};
  for (std::size_t d : data.shape()) {
    if (d == 0 || d > 0xffffffffu) {
      ctx.fail("every IDX dimension must be in 1..4294967295, the array has shape " +
               dims_str({data.shape().begin(), data.shape().end()}));
    }
    for (int s = 24; s >= 0; s -= 8) header.push_back(static_cast<std::uint8_t>(d >> s));
  }
  const std::span<const std::uint8_t> body(data.data(), data.size());
  const bool gzip = path.extension() == ".gz";
  write_file_atomic(
      path,
      [&](ByteSink& sink) {
        if (!gzip) {
          sink.write(header);
          sink.write(body);
          return;
        }
        // zlib's gzip wrapper writes mtime 0, so the same data gives the same file.
        z_stream zs{};
        if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
          ctx.fail("zlib deflateInit2 failed");
        }
        std::vector<std::uint8_t> out(1 << 16);
        auto pump = [&](std::span<const std::uint8_t> in, int flush) {
          std::size_t pos = 0;
          int rc = Z_OK;
          do {
            const std::size_t k = std::min<std::size_t>(in.size() - pos, std::size_t{1} << 30);
            zs.next_in = const_cast<Bytef*>(in.data() + pos);
            zs.avail_in = static_cast<uInt>(k);
            const int f = pos + k == in.size() ? flush : Z_NO_FLUSH;
            do {
              zs.next_out = out.data();
              zs.avail_out = static_cast<uInt>(out.size());
              rc = deflate(&zs, f);
              sink.write(out.data(), out.size() - zs.avail_out);
            } while (zs.avail_out == 0);
            pos += k;
          } while (pos < in.size());
          return rc;
        };
        try {
          pump(header, Z_NO_FLUSH);
          if (pump(body, Z_FINISH) != Z_STREAM_END) ctx.fail("zlib deflate did not finish");
        } catch (...) {
          deflateEnd(&zs);
          throw;
        }
        deflateEnd(&zs);
      },
      "write_idx");
}

namespace {

/// The first existing file among the usual spellings of an MNIST file name.
std::filesystem::path find_mnist_file(const std::filesystem::path& dir, const std::string& prefix,
                                      const std::string& kind) {
  // e.g. prefix "train", kind "images-idx3": train-images-idx3-ubyte[.gz] or
  // train-images.idx3-ubyte[.gz]
  const std::string dash = prefix + "-" + kind + "-ubyte";
  std::string dot = dash;
  dot[dot.find("-idx")] = '.';
  for (const std::string& name : {dash, dash + ".gz", dot, dot + ".gz"}) {
    const auto p = dir / name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  throw IoError("load_mnist: " + dir.string() + ": no " + dash + " or " + dash +
                ".gz (fetch MNIST with scripts/fetch_mnist.sh " + dir.string() + ")");
}

}  // namespace

MnistData load_mnist(const std::filesystem::path& dir, MnistSplit split) {
  const std::string prefix = split == MnistSplit::Train ? "train" : "t10k";
  const auto images_path = find_mnist_file(dir, prefix, "images-idx3");
  const auto labels_path = find_mnist_file(dir, prefix, "labels-idx1");
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3) {
    throw IoError("load_mnist: " + images_path.string() +
                  ": expected images [N, H, W] (3-d), got " + dims_str(images.dims));
  }
  if (labels.dims.size() != 1) {
    throw IoError("load_mnist: " + labels_path.string() + ": expected labels [N] (1-d), got " +
                  dims_str(labels.dims));
  }
  if (images.dims[0] != labels.dims[0]) {
    throw IoError("load_mnist: " + dir.string() + ": " + images_path.filename().string() + " has " +
                  std::to_string(images.dims[0]) + " images but " +
                  labels_path.filename().string() + " has " + std::to_string(labels.dims[0]) +
                  " labels");
  }
  const std::uint8_t* lab = labels.data.data();
  for (std::size_t i = 0; i < labels.data.size(); ++i) {
    if (lab[i] > 9) {
      throw IoError("load_mnist: " + labels_path.string() + ": label " + std::to_string(lab[i]) +
                    " at index " + std::to_string(i) + " is outside 0..9");
    }
  }
  const std::size_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  MnistData out;
  out.images = tapegrad::Array<float>::from_shape({n, 1, h, w});
  const std::uint8_t* src = images.data.data();
  float* dst = out.images.data();
  for (std::size_t i = 0; i < images.data.size(); ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
  out.labels = std::move(labels.data);
  return out;
}

}  // namespace tapegrad::data
