/// @file progress.hpp (train)
/// @brief Progress lines for long work: "[name] epoch 3/50  batch 120/400  loss 0.4123  37.2 img/s  ETA 12m04s".
/// Printed to stderr at most every `interval` seconds and at the end of each epoch; silent when disabled.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace ichseg::train {

/// "1h02m", "12m04s", "9.3s"
inline std::string format_duration(double seconds) {
    char buf[32];
    if (!(seconds >= 0) || seconds > 1e8) return "?";
    const long s = static_cast<long>(seconds + 0.5);
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    return buf;
}

class Progress {
public:
    Progress(std::string name, int epochs, int64_t batches_per_epoch, double interval_s = 2.0, bool enabled = true)
        : name_(std::move(name)), epochs_(epochs), batches_(batches_per_epoch), interval_(interval_s),
          enabled_(enabled), start_(clock::now()), last_(start_) {}

    /// Report one finished batch; `done_batches` counts batches finished in this run (for the ETA).
    void batch(int epoch, int64_t batch, double loss, int64_t images) {
        ++done_;
        images_ += images;
        loss_sum_ += loss;
        ++loss_n_;
        const auto now = clock::now();
        if (enabled_ && seconds(now - last_) >= interval_) {
            print(epoch, batch + 1, now);
            last_ = now;
        }
    }
    /// End of an epoch: print the epoch's mean loss and reset it.
    double end_epoch(int epoch) {
        const double mean = loss_n_ ? loss_sum_ / loss_n_ : 0.0;
        if (enabled_) print(epoch, batches_, clock::now(), true);
        loss_sum_ = 0;
        loss_n_ = 0;
        return mean;
    }
    /// Batches still to run in this invocation (used for the ETA after a resume).
    void set_remaining(int64_t remaining_batches) { remaining_ = remaining_batches; }

private:
    using clock = std::chrono::steady_clock;
    static double seconds(clock::duration d) { return std::chrono::duration<double>(d).count(); }
    void print(int epoch, int64_t batch, clock::time_point now, bool epoch_end = false) {
        const double el = seconds(now - start_);
        const double ips = el > 0 ? images_ / el : 0;
        const int64_t left = remaining_ >= 0 ? remaining_ - done_ : -1;
        const double eta = (done_ > 0 && left >= 0) ? el / done_ * left : -1;
        std::fprintf(stderr, "[%s] epoch %d/%d  batch %lld/%lld  %s %.4f  %.1f img/s  elapsed %s  ETA %s\n",
                     name_.c_str(), epoch + 1, epochs_, static_cast<long long>(batch), static_cast<long long>(batches_),
                     epoch_end ? "epoch loss" : "loss", loss_n_ ? loss_sum_ / loss_n_ : 0.0, ips,
                     format_duration(el).c_str(), format_duration(eta).c_str());
        std::fflush(stderr);
    }
    std::string name_;
    int epochs_;
    int64_t batches_;
    double interval_;
    bool enabled_;
    clock::time_point start_, last_;
    int64_t done_ = 0, images_ = 0, remaining_ = -1;
    double loss_sum_ = 0;
    int64_t loss_n_ = 0;
};

}  // namespace ichseg::train
