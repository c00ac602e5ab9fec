/// @file test_rng.cpp
/// @brief Philox-4x32-10 known-answer tests (Random123's published vectors, also checked against an
/// independent Python implementation), the stream/index mapping, distribution checks, and Generator streams.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "ichseg/core/rng.hpp"
#include "ichseg/nn/init.hpp"

using namespace ichseg;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_rng {

TEST_CASE("Philox-4x32-10 reproduces the Random123 known-answer vectors", "[core][rng]") {
    // Random123 kat_vectors, "philox4x32 10": counter (4 words), key (2 words) -> 4 words.
    auto r = philox4x32_10(0, 0, 0, 0, 0, 0);
    CHECK(r.v[0] == 0x6627e8d5u);
    CHECK(r.v[1] == 0xe169c58du);
    CHECK(r.v[2] == 0xbc57ac4cu);
    CHECK(r.v[3] == 0x9b00dbd8u);
    r = philox4x32_10(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
    CHECK(r.v[0] == 0x408f276du);
    CHECK(r.v[1] == 0x41c83b0eu);
    CHECK(r.v[2] == 0xa20bc7c6u);
    CHECK(r.v[3] == 0x6d5451fdu);
    r = philox4x32_10(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
    CHECK(r.v[0] == 0xd16cfe09u);
    CHECK(r.v[1] == 0x94fdccebu);
    CHECK(r.v[2] == 0x5001e420u);
    CHECK(r.v[3] == 0x24126ea1u);
}

TEST_CASE("random_u32(seed, stream, i) is word i % 4 of the Philox block (counter i / 4 and stream, key seed)", "[core][rng]") {
    const uint64_t seed = 0x0123456789abcdefull, stream = 0xfedcba9876543210ull;
    for (uint64_t i : {0ull, 1ull, 3ull, 4ull, 7ull, (1ull << 34) + 2}) {
        const uint64_t blk = i / 4;
        const auto r = philox4x32_10(static_cast<uint32_t>(blk), static_cast<uint32_t>(blk >> 32),
                                     static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                                     static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
        CHECK(random_u32(seed, stream, i) == r.v[i % 4]);
    }
    // different seeds, streams and indices give different words
    std::set<uint32_t> seen;
    for (uint64_t s = 0; s < 4; ++s)
        for (uint64_t st = 0; st < 4; ++st)
            for (uint64_t i = 0; i < 8; ++i) seen.insert(random_u32(s, st, i));
    CHECK(seen.size() == 128u);
}

TEST_CASE("uniform draws lie in 0..1 (1 excluded) with the right mean and variance", "[core][rng]") {
    const int n = 200000;
    double s = 0, s2 = 0, lo = 1, hi = 0;
    for (int i = 0; i < n; ++i) {
        const double u = random_uniform(3, 5, i);
        s += u;
        s2 += u * u;
        lo = std::min(lo, u);
        hi = std::max(hi, u);
        REQUIRE(u * 16777216.0 == std::floor(u * 16777216.0));  // 24 random bits, exact in float
    }
    CHECK(lo >= 0.0);
    CHECK(hi < 1.0);
    // mean 1/2 (sd of the sample mean: sqrt(1/12 / n) = 6.5e-4), variance 1/12 (sd ~2e-4): 5 sd bounds.
    CHECK(std::abs(s / n - 0.5) < 5 * 6.5e-4);
    CHECK(std::abs(s2 / n - (s / n) * (s / n) - 1.0 / 12) < 5 * 2e-4);
}

TEST_CASE("normal draws have mean 0 and variance 1", "[core][rng]") {
    const int n = 200000;
    double s = 0, s2 = 0, s4 = 0;
    for (int i = 0; i < n; ++i) {
        const double z = random_normal(9, 1, i);
        REQUIRE(std::isfinite(z));
        s += z;
        s2 += z * z;
        s4 += z * z * z * z;
    }
    // 5 sd bounds: mean sd 1/sqrt(n) = 2.2e-3; variance sd sqrt(2/n) = 3.2e-3; kurtosis 3 (sd ~sqrt(96/n) = 0.022)
    CHECK(std::abs(s / n) < 5 * 2.2e-3);
    CHECK(std::abs(s2 / n - 1) < 5 * 3.2e-3);
    CHECK(std::abs(s4 / n - 3) < 5 * 0.022);
}

TEST_CASE("Generator hands out fresh streams, a copy replays them", "[core][rng]") {
    Generator g(77);
    CHECK(g.seed() == 77u);
    CHECK(g.next_stream() == 0u);
    CHECK(g.next_stream() == 1u);
    Generator copy = g;
    const float a = g.uniform(), b = copy.uniform();
    CHECK(a == b);
    CHECK(g.streams_used() == 3u);
    CHECK(g.uniform() != a);  // the next draw is on a new stream
    g.set_state(77, 2);
    CHECK(g.uniform() == a);
    const float u = g.uniform(-3.f, -2.f);
    CHECK(u >= -3.f);
    CHECK(u < -2.f);
}

TEST_CASE("uniform_tensor (PyTorch default init) fills U(-bound, bound) from one stream", "[core][rng]") {
    Generator g(5);
    const auto t = nn::uniform_tensor<float>({64, 32, 3, 3}, 0.25, g);
    double s = 0, lo = 1, hi = -1;
    for (float v : t.to_vector()) {
        s += v;
        lo = std::min<double>(lo, v);
        hi = std::max<double>(hi, v);
    }
    CHECK(lo >= -0.25);
    CHECK(hi < 0.25);
    CHECK(lo < -0.249);
    CHECK(hi > 0.249);
    CHECK(std::abs(s / t.numel()) < 5 * 0.25 / std::sqrt(3.0 * t.numel()));
    CHECK(g.streams_used() == 1u);
    CHECK(nn::default_init_bound(9) == Approx(1.0 / 3));
}

}  // namespace test_rng
