#pragma once
// A one-line progress bar for a terminal, redrawn in place with a carriage return:
//   epoch 3/10 [=========>          ]  61/125  loss 0.01234  2710 img/s  ETA 0:02
// Redraws are throttled (10 per second) so printing never costs a training step.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>

namespace mnist_autoencoder {

/// "0:07", "1:02:03": a duration in seconds as [h:]mm:ss (m:ss under an hour).
inline std::string format_duration(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // also NaN
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

/// Progress of one epoch: update() after each batch, finish() before printing anything else.
class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;

  /// `label` starts the line ("epoch 3/10"); `total` batches of `images_total` images.
  ProgressBar(std::FILE* out, std::string label, std::size_t total, std::size_t images_total)
      : out_(out),
        label_(std::move(label)),
        total_(total),
        images_total_(images_total),
        start_(Clock::now()) {}

  /// Records that `done` batches (`images_done` images) are finished; `running_loss` is
  /// the mean loss so far. Draws at most every 100 ms, and always for the last batch.
  void update(std::size_t done, std::size_t images_done, double running_loss) {
    const auto now = Clock::now();
    if (done < total_ && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    drawn_ = true;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? images_done / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(images_total_ - images_done) / rate : 0.0;
    constexpr std::size_t width = 24;
    const std::size_t filled = total_ ? done * width / total_ : width;
    std::string bar(width, ' ');
    for (std::size_t i = 0; i < filled; ++i) bar[i] = '=';
    if (filled < width) bar[filled] = '>';
    const int digits = static_cast<int>(std::to_string(total_).size());
    char line[256];
    const int n = std::snprintf(
        line, sizeof line, "\r%s [%s] %*zu/%zu  loss %.5f  %.0f img/s  ETA %s", label_.c_str(),
        bar.c_str(), digits, done, total_, running_loss, rate, format_duration(eta).c_str());
    std::fputs(line, out_);
    // Blank out what a longer previous line left behind.
    if (n > 0 && static_cast<std::size_t>(n) < width_) {
      std::fprintf(out_, "%*s", static_cast<int>(width_ - n), "");
    }
    width_ = std::max<std::size_t>(width_, n > 0 ? static_cast<std::size_t>(n) : 0);
    std::fflush(out_);
  }

  /// Erases the bar, leaving the cursor at the start of an empty line.
  void finish() {
    if (!drawn_) return;
    std::fprintf(out_, "\r%*s\r", static_cast<int>(width_), "");
    std::fflush(out_);
    drawn_ = false;
  }

 private:
  std::FILE* out_;
  std::string label_;
  std::size_t total_, images_total_;
  Clock::time_point start_, last_draw_{};
  bool drawn_ = false;
  std::size_t width_ = 0;  // widest line drawn so far, in characters
};

}  // namespace mnist_autoencoder
