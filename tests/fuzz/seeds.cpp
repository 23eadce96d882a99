// Writes the seed corpora of the fuzz targets with tapegrad's own writers, one folder per
// target under argv[1]: IDX files (plain and gzip), npz archives of every dtype and rank,
// checkpoints of the model fuzz_checkpoint loads into, and conv_args byte strings.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <tapegrad/tapegrad.hpp>
#include <vector>

namespace fs = std::filesystem;
using namespace tapegrad;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* t : {"idx", "npz", "checkpoint", "conv_args"}) fs::create_directories(root / t);

  Array<std::uint8_t> images = Array<std::uint8_t>::from_shape({3, 4, 5});
  for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = std::uint8_t(i * 7);
  data::write_idx(root / "idx" / "images.idx", images);
  data::write_idx(root / "idx" / "images.idx.gz", images);
  data::write_idx(root / "idx" / "labels.idx", Array<std::uint8_t>{1, 2, 3, 9});

  io::NpzDict d;
  d.insert("f", Array<float>{{1.5f, 2.5f}, {3.5f, -1.0f}});
  d.insert("d", Array<double>{1.0, 2.0, 3.0});
  d.insert("i", Array<std::int64_t>{7});
  d.insert("scalar", Array<double>(4.0));
  io::save_npz(root / "npz" / "mixed.npz", d);
  io::save_npz(root / "npz" / "empty.npz", io::NpzDict{});

  Generator gen(0);
  Sequential net({std::make_shared<Conv2d>(1, 2, 3, gen), std::make_shared<ReLU>(),
                  std::make_shared<Flatten>(), std::make_shared<Linear>(8, 3, gen)});
  save(net, root / "checkpoint" / "model.npz");
  optim::Adam adam(net.parameters(), {.lr = 1e-3});
  save_checkpoint(
      root / "checkpoint" / "model_and_optim.npz",
      merge({add_prefix("model", net.state_dict()), add_prefix("optim", adam.state_dict())}));

  // conv_args: transposed, batched, bias, then sizes (see fuzz_conv_args.cpp).
  const std::vector<std::vector<std::uint8_t>> conv = {
      {0, 1, 1, 2, 2, 5, 5, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 2},
      {0, 1, 0, 1, 3, 6, 6, 2, 1, 3, 3, 2, 2, 1, 1, 2, 2, 0, 0, 1, 1, 2},
      {1, 1, 1, 1, 2, 3, 3, 2, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 7, 7},
      {1, 0, 0, 2, 3, 3, 2, 2, 2, 2, 1, 1, 0, 0, 2, 2, 0, 0, 2, 0, 1}};
  for (std::size_t i = 0; i < conv.size(); ++i) {
    std::ofstream f(root / "conv_args" / ("seed" + std::to_string(i)), std::ios::binary);
    f.write(reinterpret_cast<const char*>(conv[i].data()), std::streamsize(conv[i].size()));
  }
  return 0;
}
