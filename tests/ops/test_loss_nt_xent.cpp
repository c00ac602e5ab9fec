/// @file test_loss_nt_xent.cpp
/// @brief NT-Xent (global contrastive, tau 0.1, 2N - 2 negatives): naive reference, invariances, gradient
/// check, PyTorch golden values, bad input.
#include <catch2/catch.hpp>

#include "ichseg/loss/nt_xent.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_loss_nt_xent {

TEST_CASE("NT-Xent equals the per-anchor cross-entropy over the 2N - 1 others, mean over 2N anchors",
          "[loss][nt_xent]") {
    for (auto [rows, D] : std::vector<std::pair<int64_t, int64_t>>{{2, 3}, {8, 16}, {12, 5}}) {
        INFO(rows << " x " << D);
        const auto z = uniform<double>({rows, D}, 1);
        for (double tau : {0.1, 0.5}) {
            const double got = nt_xent_loss(Var<double>(z), tau).value()(0);
            CHECK(got == Approx(naive::nt_xent<double>(naive::rows_of(z), tau)).epsilon(1e-13));
        }
    }
}

TEST_CASE("NT-Xent is invariant to the scale of each embedding, gradient is orthogonal to it", "[loss][nt_xent]") {
    auto z = uniform<double>({6, 4}, 2);
    Var<double> zv(z, true);
    Var<double> l = nt_xent_loss(zv, 0.1);
    l.backward();
    Tensor<double> z2 = z.clone();
    for (int64_t d = 0; d < 4; ++d) z2(3, d) *= 7.5;
    CHECK(nt_xent_loss(Var<double>(z2), 0.1).value()(0) == Approx(l.value()(0)).epsilon(1e-13));
    for (int64_t i = 0; i < 6; ++i) {
        double dot = 0;
        for (int64_t d = 0; d < 4; ++d) dot += zv.grad()(i, d) * z(i, d);
        CHECK(std::abs(dot) < 1e-14);
    }
}

TEST_CASE("NT-Xent in float matches the double reference", "[loss][nt_xent]") {
    const auto z = uniform<float>({16, 32}, 3);
    Var<float> zv(z, true);
    Var<float> l = nt_xent_loss(zv, 0.1);
    l.backward();
    Var<double> zd(z.cast<double>(), true);
    Var<double> ld = nt_xent_loss(zd, 0.1);
    ld.backward();
    // float: similarities are float dot products of unit vectors divided by tau = 0.1, so their rounding (~1 ulp)
    // is amplified up to 10x in the logits; the log-sum-exp runs in double. Allowed: 16 ulp of the loss and of
    // the gradient's scale (observed: < 1 ulp).
    CHECK(l.value()(0) == Approx(ld.value()(0)).epsilon(16 * kEpsF));
    const auto g = zd.grad();
    ICHSEG_REQUIRE_CLOSE_SCALED(zv.grad(), g, 16 * kEpsF);
}

TEST_CASE("NT-Xent finite-difference gradient check in double", "[loss][nt_xent][gradcheck]") {
    for (double tau : {0.1, 1.0})
        gradcheck([&](const std::vector<Var<double>>& v) { return nt_xent_loss(v[0], tau); },
                  {uniform<double>({6, 5}, 4)});
}

TEST_CASE("NT-Xent matches PyTorch golden values", "[loss][nt_xent][golden]") {
    auto run = [](auto zero, double rel) {
        using T = decltype(zero);
        Var<T> z(gold<T>("loss_nt_xent", "z"), true);
        Var<T> l = nt_xent_loss(z, 0.1);
        l.backward();
        CHECK(l.value()(0) == Approx(gold<double>("loss_nt_xent", "loss")(0)).epsilon(rel));
        const auto edz = gold<double>("loss_nt_xent", "dz");
        ICHSEG_REQUIRE_CLOSE_SCALED(z.grad(), edz, rel);
    };
    run(0.0f, 16 * kEpsF);  // see "in float matches the double reference": 1/tau amplifies rounding up to 10x
    run(0.0, 1e-12);
}

TEST_CASE("NT-Xent rejects an odd number of rows or a non-positive temperature", "[loss][nt_xent][bad_input]") {
    ICHSEG_REQUIRE_ERROR(nt_xent_loss(Var<float>(uniform<float>({5, 4}, 1))), {"nt_xent_loss", "[5, 4]"});
    ICHSEG_REQUIRE_ERROR(nt_xent_loss(Var<float>(uniform<float>({4, 4, 1}, 1))), {"nt_xent_loss", "[4, 4, 1]"});
    ICHSEG_REQUIRE_ERROR(nt_xent_loss(Var<float>(uniform<float>({4, 4}, 1)), 0.0), {"nt_xent_loss", "temperature"});
}

}  // namespace test_loss_nt_xent
