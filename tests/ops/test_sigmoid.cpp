/// @file test_sigmoid.cpp
/// @brief sigmoid: naive reference, gradient check in double, PyTorch golden values, saturation.
#include <catch2/catch.hpp>

#include <cmath>

#include "ichseg/ops/sigmoid.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_sigmoid {

TEST_CASE("sigmoid equals 1 / (1 + exp(-x)) and its gradient y (1 - y) dy", "[ops][sigmoid]") {
    const auto x = uniform<float>({3, 1000}, 1, -12.0, 12.0), dy = uniform<float>(x.shape(), 2);
    Var<float> xv(x, true);
    Var<float> y = sigmoid(xv);
    y.backward(dy);
    std::vector<double> ey, edx;
    for (int64_t i = 0; i < x.numel(); ++i) {
        const double s = 1 / (1 + std::exp(-static_cast<double>(x.data()[i])));
        ey.push_back(s);
        edx.push_back(dy.data()[i] * s * (1 - s));
    }
    // float: exp, an addition and a division, each within ~1 ulp (up to ~4 ulp for a vectorised exp); observed
    // <= 4 ulp, allowed 16 ulp relative, plus 1e-30 absolute for outputs that underflow towards 0.
    ICHSEG_REQUIRE_CLOSE(y.value(), ey, 1e-30, 16 * kEpsF);
    // the gradient y (1 - y) loses relative accuracy where y -> 1 (1 - y cancels): 2 ulp of 1 absolute.
    ICHSEG_REQUIRE_CLOSE(xv.grad(), edx, 2 * kEpsF, 16 * kEpsF);
}

TEST_CASE("sigmoid saturates without NaN", "[ops][sigmoid]") {
    Var<float> x(Tensor<float>::from_vector({4}, {-1000.f, -100.f, 100.f, 1000.f}), true);
    Var<float> y = sigmoid(x);
    y.backward(Tensor<float>::full({4}, 1.f));
    CHECK(y.value().to_vector() == std::vector<float>({0.f, 0.f, 1.f, 1.f}) );
    for (float g : x.grad().to_vector()) CHECK(g == 0.f);
}

TEST_CASE("sigmoid finite-difference gradient check in double", "[ops][sigmoid][gradcheck]") {
    gradcheck([](const std::vector<Var<double>>& v) { return sigmoid(v[0]); }, {uniform<double>({3, 7}, 3, -4, 4)});
}

TEST_CASE("sigmoid matches PyTorch golden values", "[ops][sigmoid][golden]") {
    auto run = [](auto zero, double rel) {
        using T = decltype(zero);
        Var<T> x(gold<T>("ops_sigmoid", "x"), true);
        Var<T> y = sigmoid(x);
        y.backward(gold<T>("ops_sigmoid", "gy"));
        const auto ey = gold<double>("ops_sigmoid", "y"), edx = gold<double>("ops_sigmoid", "dx");
        ICHSEG_REQUIRE_CLOSE_SCALED(y.value(), ey, rel);
        ICHSEG_REQUIRE_CLOSE_SCALED(x.grad(), edx, rel);
    };
    // float: exp, a division and two products, each within 1 ulp (a few for a vectorised exp): 16 ulp of the
    // scale. double: 1e-14.
    run(0.0f, 16 * kEpsF);
    run(0.0, 1e-14);
}

}  // namespace test_sigmoid
