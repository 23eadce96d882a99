#include <algorithm>
#include <stdexcept>
#include <string>
#include <tapegrad/core/io/detail/binary_io.hpp>
#include <tapegrad/core/io/npz.hpp>
#include <tapegrad/core/io/zip.hpp>
#include <vector>

namespace tapegrad::io {

using detail::Ctx;
using detail::printable;

// ---------------------------------------------------------------- NpzDict

namespace {

// A zip name has at most 65535 bytes, and ".npy" is appended to the key.
constexpr std::size_t kMaxKeyBytes = 0xffff - 4;

void check_key(std::string_view key) {
  if (key.empty()) throw std::invalid_argument("NpzDict: empty key");
  if (key.size() > kMaxKeyBytes) {
    throw std::invalid_argument("NpzDict: key of " + std::to_string(key.size()) +
                                " bytes is longer than the 65531 a zip member name allows");
  }
  if (key.find('\0') != std::string_view::npos) {
    throw std::invalid_argument("NpzDict: key '" + printable(key) + "' contains a NUL byte");
  }
}
}  // namespace

NpzDict::NpzDict(std::initializer_list<value_type> items) {
  for (const auto& [k, v] : items) insert(k, v);
}

void NpzDict::insert(std::string key, NpzArray array) {
  check_key(key);
  if (contains(key)) throw std::invalid_argument("NpzDict: duplicate key '" + printable(key) + "'");
  items_.emplace_back(std::move(key), std::move(array));
}

void NpzDict::insert_or_assign(std::string key, NpzArray array) {
  check_key(key);
  for (auto& [k, v] : items_) {
    if (k == key) {
      v = std::move(array);
      return;
    }
  }
  items_.emplace_back(std::move(key), std::move(array));
}

bool NpzDict::contains(std::string_view key) const {
  return std::any_of(items_.begin(), items_.end(), [&](const auto& kv) { return kv.first == key; });
}

const NpzArray& NpzDict::at(std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  std::string present;
  for (std::size_t i = 0; i < items_.size() && i < 20; ++i) {
    present += (i ? ", '" : "'") + printable(items_[i].first) + "'";
  }
  if (items_.size() > 20) present += ", ...";
  throw std::out_of_range("NpzDict: no key '" + printable(key) +
                          "' (keys: " + (present.empty() ? "none" : present) + ")");
}

std::vector<std::string> NpzDict::keys() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& kv : items_) out.push_back(kv.first);
  return out;
}

void NpzDict::throw_dtype_mismatch(std::string_view key, const NpzArray& a, const char* wanted) {
  throw std::invalid_argument("NpzDict: key '" + printable(key) + "' holds dtype '" + npz_dtype(a) +
                              "', not the requested '" + wanted + "'");
}

// ---------------------------------------------------------------- writing

void write_npz(ByteSink& sink, const NpzDict& dict, const char* function,
               const std::filesystem::path& name) {
  if (dict.size() >= 0xffff) {
    Ctx{function, name, {}}.fail("too many arrays (" + std::to_string(dict.size()) +
                                 "): more than 65534 needs ZIP64, which is not supported");
  }
  // The members' parts are views: `headers` keeps the npy headers alive until write_zip
  // returns, and the elements go out from the arrays themselves, never copied.
  std::vector<std::vector<std::uint8_t>> headers;
  std::vector<ZipMember> members;
  headers.reserve(dict.size());
  members.reserve(dict.size());
  for (const auto& [key, array] : dict) {
    std::string filename = key + ".npy";
    headers.push_back(npy_header(array, name, function, filename));
    members.push_back(ZipMember{std::move(filename), {headers.back(), npy_data(array)}});
  }
  write_zip(sink, members, function, name);
}

void save_npz(const std::filesystem::path& path, const NpzDict& dict) {
  write_file_atomic(
      path, [&](ByteSink& sink) { write_npz(sink, dict, "save_npz", path); }, "save_npz");
}

// ---------------------------------------------------------------- reading

NpzDict parse_npz(std::span<const std::uint8_t> bytes, const std::filesystem::path& name,
                  const char* function) {
  // numpy.save's output handed to load_npz is an easy slip: name it, rather than
  // report a zip with the wrong magic.
  if (has_npy_magic(bytes) && !has_zip_end_record(bytes)) {
    Ctx{function, name, {}}.fail(
        "this is a .npy array, not an .npz archive (load it with numpy.load)");
  }
  NpzDict dict;
  read_zip(
      bytes, name,
      [&](const ZipEntry& entry) {
        const Ctx ctx{function, name, std::string(entry.name)};
        const std::string& member = ctx.member;
        if (member.size() <= 4 || member.compare(member.size() - 4, 4, ".npy") != 0) {
          ctx.fail("not a .npy array (npz members are named <key>.npy)");
        }
        std::string key = member.substr(0, member.size() - 4);
        if (dict.contains(key)) ctx.fail("duplicate member");
        if (key.find('\0') != std::string::npos) ctx.fail("member name contains a NUL byte");
        NpzArray array = parse_npy(entry.data, name, function, member);
        dict.insert(std::move(key), std::move(array));
      },
      function, "an npz (zip) archive");
  return dict;
}

NpzDict load_npz(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path, "load_npz");
  return parse_npz(bytes, path, "load_npz");
}

}  // namespace tapegrad::io
