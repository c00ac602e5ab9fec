/// @file rng.hpp
/// @brief Counter-based random numbers (Philox-4x32-10), identical on the CPU and in CUDA kernels.
///
/// A draw is a pure function of (seed, stream, index): element i of stream s is the same value whichever
/// thread, device or partitioning computes it. `Generator` hands out fresh stream numbers, so each random op
/// (an initialiser, a dropout mask) takes one stream and indexes it by element.
#pragma once

#include <cmath>
#include <cstdint>

#include "ichseg/config.hpp"

namespace ichseg {

struct Philox4x32 {
    uint32_t v[4];
};

/// Philox-4x32 with 10 rounds (Salmon et al., SC'11): counter (c0..c3), key (k0, k1) -> 4 random words.
ICHSEG_HOST_DEVICE Philox4x32 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                            uint32_t k1) {
    constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int r = 0; r < 10; ++r) {
        const uint64_t p0 = static_cast<uint64_t>(M0) * c0;
        const uint64_t p1 = static_cast<uint64_t>(M1) * c2;
        const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
        const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += W0;
        k1 += W1;
    }
    return {{c0, c1, c2, c3}};
}

/// The index-th 32-bit word of stream `stream` under `seed`.
ICHSEG_HOST_DEVICE uint32_t random_u32(uint64_t seed, uint64_t stream, uint64_t index) {
    const uint64_t block = index >> 2;
    Philox4x32 r = philox4x32_10(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                                 static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                                 static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    return r.v[index & 3];
}

/// Uniform in [0, 1) with 24 random bits (exactly representable as float).
ICHSEG_HOST_DEVICE float random_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
    return static_cast<float>(random_u32(seed, stream, index) >> 8) * (1.0f / 16777216.0f);
}

/// Standard normal by Box-Muller from words 2i and 2i+1 of the stream.
ICHSEG_HOST_DEVICE double random_normal(uint64_t seed, uint64_t stream, uint64_t index) {
    const double u1 = (static_cast<double>(random_u32(seed, stream, 2 * index) >> 8) + 1.0) / 16777217.0;
    const double u2 = static_cast<double>(random_u32(seed, stream, 2 * index + 1) >> 8) / 16777216.0;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

/// A seed plus a counter of streams handed out. Copyable: a copy replays the same sequence of streams.
class Generator {
public:
    explicit Generator(uint64_t seed = 0) : seed_(seed) {}
    uint64_t seed() const { return seed_; }
    /// A stream no earlier call of this generator returned.
    uint64_t next_stream() { return next_++; }
    uint64_t streams_used() const { return next_; }
    void set_state(uint64_t seed, uint64_t streams_used) {
        seed_ = seed;
        next_ = streams_used;
    }
    /// Convenience scalar draws, each on a fresh stream.
    float uniform() { return random_uniform(seed_, next_stream(), 0); }
    float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
    double normal() { return random_normal(seed_, next_stream(), 0); }

private:
    uint64_t seed_;
    uint64_t next_ = 0;
};

}  // namespace ichseg
