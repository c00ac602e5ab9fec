/// @file random.hpp
/// @brief Seeded, order-independent random draws for the data pipeline. Every random decision of a sample is a
/// pure function of (seed, epoch, sample index, purpose): a sample gets the same augmentation whichever worker
/// thread builds it and in whatever order, so runs are reproducible with any number of loader threads.
#pragma once

#include <cmath>
#include <cstdint>

#include "ichseg/core/rng.hpp"

namespace ichseg::data {

/// SplitMix64 finaliser: a well-mixed 64-bit hash of x.
inline uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/// A stream id for (a, b, c): e.g. (epoch, sample index, purpose).
inline uint64_t stream_id(uint64_t a, uint64_t b = 0, uint64_t c = 0) { return mix64(mix64(mix64(a) ^ b) ^ c); }

/// Sequential draws from one Philox stream (seed, stream); cheap to create, copyable (a copy replays).
class Rng {
public:
    Rng(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}
    uint32_t u32() { return random_u32(seed_, stream_, counter_++); }
    /// Uniform in [0, 1) (24 bits).
    double uniform() { return static_cast<double>(u32() >> 8) * (1.0 / 16777216.0); }
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    bool bernoulli(double p) { return uniform() < p; }
    /// Uniform integer in [lo, hi] (inclusive); hi >= lo.
    int64_t randint(int64_t lo, int64_t hi) {
        const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
        const uint64_t r = (static_cast<uint64_t>(u32()) << 32) | u32();
        return lo + static_cast<int64_t>(span == 0 ? r : r % span);
    }
    /// Standard normal (Box-Muller).
    double normal() {
        const double u1 = (static_cast<double>(u32() >> 8) + 1.0) / 16777217.0;
        const double u2 = static_cast<double>(u32() >> 8) / 16777216.0;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    double normal(double mean, double sd) { return mean + sd * normal(); }
    /// log-uniform in [lo, hi] (lo, hi > 0).
    double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }
    uint64_t seed() const { return seed_; }
    uint64_t stream() const { return stream_; }
    /// A new independent generator derived from this one's key and `tag`.
    Rng fork(uint64_t tag) const { return Rng(seed_, stream_id(stream_, tag, 0x5eed)); }

private:
    uint64_t seed_, stream_;
    uint64_t counter_ = 0;
};

}  // namespace ichseg::data
