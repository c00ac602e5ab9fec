/// @file test_loss_mse.cpp
/// @brief MSE (context restoration): naive reference, gradient check, PyTorch golden values, bad input.
#include <catch2/catch.hpp>

#include "ichseg/loss/mse.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_loss_mse {

TEST_CASE("MSE is the mean of squared differences, gradient 2 (y - t) / n", "[loss][mse]") {
    // 100k elements: several threads, whose partial sums are reduced in a fixed order.
    const auto y = integers<float>({4, 1, 125, 200}, 1), t = integers<float>(y.shape(), 2);
    Var<float> yv(y, true);
    Var<float> l = mse_loss(yv, t);
    l.backward();
    const double n = static_cast<double>(y.numel());
    double s = 0;
    for (int64_t i = 0; i < y.numel(); ++i) s += (y.data()[i] - t.data()[i]) * (y.data()[i] - t.data()[i]);
    CHECK(l.value()(0) == static_cast<float>(s / n));  // integer squares sum exactly in double
    for (int64_t i = 0; i < y.numel(); ++i)
        REQUIRE(yv.grad().data()[i] == static_cast<float>(2.0 / n) * (y.data()[i] - t.data()[i]));
}

TEST_CASE("MSE finite-difference gradient check in double", "[loss][mse][gradcheck]") {
    const auto t = uniform<double>({2, 1, 3, 4}, 3);
    gradcheck([&](const std::vector<Var<double>>& v) { return mse_loss(v[0], t); }, {uniform<double>({2, 1, 3, 4}, 4)});
}

TEST_CASE("MSE matches PyTorch golden values", "[loss][mse][golden]") {
    // float: differences and products rounded once each, sum in double: 4 ulp. double: 1e-14.
    auto run = [](auto zero, double rel) {
        using T = decltype(zero);
        Var<T> y(gold<T>("loss_mse", "y"), true);
        Var<T> l = mse_loss(y, gold<T>("loss_mse", "t"));
        l.backward();
        CHECK(l.value()(0) == Approx(gold<double>("loss_mse", "loss")(0)).epsilon(rel));
        const auto edy = gold<double>("loss_mse", "dy");
        ICHSEG_REQUIRE_CLOSE_SCALED(y.grad(), edy, rel);
    };
    run(0.0f, 4 * kEpsF);
    run(0.0, 1e-14);
}

TEST_CASE("MSE rejects mismatched shapes, naming the loss and both shapes", "[loss][mse][bad_input]") {
    ICHSEG_REQUIRE_ERROR(mse_loss(Var<float>(uniform<float>({2, 3}, 1)), uniform<float>({3, 2}, 2)),
                         {"mse_loss", "[2, 3]", "[3, 2]"});
    ICHSEG_REQUIRE_ERROR(mse_loss(Var<float>(Tensor<float>::zeros({0})), Tensor<float>::zeros({0})), {"mse_loss"});
}

}  // namespace test_loss_mse
