/// @file test_dropout.cpp
/// @brief dropout: exact scale 1/(1-p) of kept elements, mask statistics, the same mask in backward,
/// determinism of the counter-based mask, identity in evaluation, bad probability. (The RNG differs from
/// PyTorch's, so there are no golden values; the semantics are what is compared.)
#include <catch2/catch.hpp>

#include <cmath>

#include "ichseg/ops/dropout.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_dropout {

TEST_CASE("dropout keeps each element with probability 1 - p and scales it by exactly 1 / (1 - p)", "[ops][dropout]") {
    for (double p : {0.5, 0.2, 0.9}) {
        INFO("p " << p);
        const int64_t n = 200000;
        const auto x = uniform<float>({n}, 1, 1.0, 2.0);  // never 0, so a dropped element is recognisable
        Generator gen(42);
        Var<float> xv(x, true);
        Var<float> y = dropout(xv, p, true, gen);
        const float scale = static_cast<float>(1.0 / (1.0 - p));
        int64_t kept = 0;
        for (int64_t i = 0; i < n; ++i) {
            const float v = y.value().data()[i];
            if (v != 0.f) {
                ++kept;
                REQUIRE(v == x.data()[i] * scale);  // the same float product PyTorch's dropout computes
            }
        }
        // Binomial(n, 1 - p): 5 standard deviations (false failure probability < 1e-6).
        const double mean = n * (1 - p), sd = std::sqrt(n * p * (1 - p));
        CHECK(std::abs(kept - mean) < 5 * sd);
        // backward regenerates the same mask: dx = dy * keep * scale
        const auto dy = uniform<float>({n}, 2);
        y.backward(dy);
        for (int64_t i = 0; i < n; ++i) {
            const bool keep = y.value().data()[i] != 0.f;
            REQUIRE(xv.grad().data()[i] == (keep ? dy.data()[i] * scale : 0.f));
        }
    }
}

TEST_CASE("dropout masks are uncorrelated between neighbours and between calls", "[ops][dropout]") {
    const int64_t n = 100000;
    const auto x = Tensor<float>::full({n}, 1.f);
    Generator gen(7);
    const auto a = dropout(Var<float>(x), 0.5, true, gen).value(), b = dropout(Var<float>(x), 0.5, true, gen).value();
    int64_t both_adj = 0, both_calls = 0;
    for (int64_t i = 0; i + 1 < n; ++i) both_adj += a.data()[i] != 0 && a.data()[i + 1] != 0;
    for (int64_t i = 0; i < n; ++i) both_calls += a.data()[i] != 0 && b.data()[i] != 0;
    // P(both kept) = 1/4 for independent masks; 5 sd of a Binomial(n, 1/4) (pairs of neighbours overlap, which
    // inflates the variance of the adjacent count by < 2x, covered by the 5 sd bound at 1e-6 anyway).
    const double sd = std::sqrt(n * 0.25 * 0.75);
    CHECK(std::abs(both_adj - n / 4.0) < 7 * sd);
    CHECK(std::abs(both_calls - n / 4.0) < 5 * sd);
}

TEST_CASE("dropout masks depend only on (seed, stream, index): same seed, same mask, any thread count",
          "[ops][dropout]") {
    const auto x = uniform<float>({3, 50000}, 3, 1.0, 2.0);
    Generator g1(99), g2(99);
    const auto y1 = dropout(Var<float>(x), 0.3, true, g1).value();
    const int saved = num_threads();
    set_num_threads(1);
    const auto y2 = dropout(Var<float>(x), 0.3, true, g2).value();
    set_num_threads(saved);
    ICHSEG_REQUIRE_EQUAL(y1, y2);
    Generator g3(100);
    CHECK(dropout(Var<float>(x), 0.3, true, g3).value().to_vector() != y1.to_vector());
}

TEST_CASE("dropout is the identity in evaluation mode and for p = 0", "[ops][dropout]") {
    const auto x = uniform<float>({2, 3, 4}, 4);
    Generator gen(1);
    Var<float> xv(x, true);
    Var<float> e = dropout(xv, 0.5, false, gen);
    CHECK(e.value().to_vector() == x.to_vector());
    CHECK(dropout(xv, 0.0, true, gen).value().to_vector() == x.to_vector());
    CHECK(gen.streams_used() == 0);  // no random numbers drawn
}

TEST_CASE("dropout finite-difference gradient check in double (fixed mask)", "[ops][dropout][gradcheck]") {
    // The mask is a function of (seed, stream, index); a copy of the generator replays the same stream for
    // every probe, so the op is linear in x with a fixed mask.
    const Generator start(5);
    gradcheck(
        [&](const std::vector<Var<double>>& v) {
            Generator g = start;
            return dropout(v[0], 0.4, true, g);
        },
        {uniform<double>({4, 25}, 6)});
}

TEST_CASE("dropout rejects probabilities below 0 or not below 1", "[ops][dropout][bad_input]") {
    Generator gen(1);
    Var<float> x(uniform<float>({4}, 1));
    ICHSEG_REQUIRE_ERROR(dropout(x, 1.0, true, gen), {"dropout", "1"});
    ICHSEG_REQUIRE_ERROR(dropout(x, -0.1, true, gen), {"dropout", "-0.1"});
}

}  // namespace test_dropout
