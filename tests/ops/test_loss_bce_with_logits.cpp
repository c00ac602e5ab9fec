/// @file test_loss_bce_with_logits.cpp
/// @brief BCE with logits and pos_weight (multi-label CE pretext task): naive reference from the definition,
/// stability, gradient check, PyTorch golden values, bad input.
#include <catch2/catch.hpp>

#include "ichseg/loss/bce_with_logits.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_loss_bce_with_logits {

TEST_CASE("BCE with logits equals -mean(w t log s(x) + (1 - t) log(1 - s(x)))", "[loss][bce_with_logits]") {
    const auto x = uniform<double>({5, 7}, 1, -4, 4), t = binary<double>({5, 7}, 2, 0.3);
    const auto pw = uniform<double>({7}, 3, 0.5, 6.0);
    for (bool with_pw : {true, false}) {
        Var<double> xv(x, true);
        Var<double> l = bce_with_logits_loss(xv, t, with_pw ? pw : Tensor<double>());
        l.backward();
        CHECK(l.value()(0) == Approx(naive::bce_with_logits(x, t, with_pw ? pw : Tensor<double>())).epsilon(1e-13));
        for (int64_t b = 0; b < 5; ++b)
            for (int64_t c = 0; c < 7; ++c) {
                const double s = 1 / (1 + std::exp(-x(b, c))), w = with_pw ? pw(c) : 1.0;
                // d/dx of -(w t log s + (1 - t) log(1 - s)) = -w t (1 - s) + (1 - t) s
                CHECK(xv.grad()(b, c) == Approx((-w * t(b, c) * (1 - s) + (1 - t(b, c)) * s) / 35).epsilon(1e-12));
            }
    }
}

TEST_CASE("BCE with logits is stable for large logits", "[loss][bce_with_logits]") {
    Var<float> x(Tensor<float>::from_vector({1, 4}, {-200.f, 200.f, 30.f, -30.f}), true);
    const auto t = Tensor<float>::from_vector({1, 4}, {1.f, 0.f, 1.f, 0.f});
    Var<float> l = bce_with_logits_loss(x, t, Tensor<float>::full({4}, 2.f));
    l.backward();
    CHECK(l.value()(0) == Approx((2 * 200.0 + 200.0) / 4).epsilon(1e-6));
    for (float g : x.grad().to_vector()) CHECK(std::isfinite(g));
}

TEST_CASE("BCE with logits finite-difference gradient check in double", "[loss][bce_with_logits][gradcheck]") {
    const auto t = binary<double>({4, 7}, 4, 0.4), pw = uniform<double>({7}, 5, 0.5, 4.0);
    gradcheck([&](const std::vector<Var<double>>& v) { return bce_with_logits_loss(v[0], t, pw); },
              {uniform<double>({4, 7}, 6, -3, 3)});
}

TEST_CASE("BCE with logits matches PyTorch golden values", "[loss][bce_with_logits][golden]") {
    const std::string f = "loss_bce_with_logits";
    // computed in double inside; float adds only the final rounding of the loss and of each gradient: 2 ulp.
    auto run = [&](auto zero, double rel) {
        using T = decltype(zero);
        for (bool with_pw : {true, false}) {
            Var<T> x(gold<T>(f, "x"), true);
            Var<T> l = bce_with_logits_loss(x, gold<T>(f, "t"), with_pw ? gold<T>(f, "pos_weight") : Tensor<T>());
            l.backward();
            CHECK(l.value()(0) == Approx(gold<double>(f, with_pw ? "loss" : "nopw.loss")(0)).epsilon(rel));
            const auto edx = gold<double>(f, with_pw ? "dx" : "nopw.dx");
            ICHSEG_REQUIRE_CLOSE_SCALED(x.grad(), edx, rel);
        }
    };
    run(0.0f, 2 * kEpsF);
    run(0.0, 1e-14);
}

TEST_CASE("BCE with logits rejects bad shapes", "[loss][bce_with_logits][bad_input]") {
    Var<float> x(uniform<float>({3, 7}, 1));
    ICHSEG_REQUIRE_ERROR(bce_with_logits_loss(x, Tensor<float>::zeros({3, 6})), {"bce_with_logits_loss", "[3, 7]", "[3, 6]"});
    ICHSEG_REQUIRE_ERROR(bce_with_logits_loss(x, Tensor<float>::zeros({3, 7}), Tensor<float>::full({6}, 1.f)),
                         {"bce_with_logits_loss", "pos_weight", "[6]"});
}

}  // namespace test_loss_bce_with_logits
