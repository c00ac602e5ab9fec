/// @file test_relu.cpp
/// @brief relu: naive reference (exact), gradient check away from 0, PyTorch golden values, gradient at 0.
#include <catch2/catch.hpp>

#include "ichseg/ops/relu.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_relu {

namespace {
/// x pushed at least `margin` away from 0 (the kink), keeping its sign.
Tensor<double> away_from_zero(Tensor<double> x, double margin) {
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] += x.data()[i] >= 0 ? margin : -margin;
    return x;
}
}  // namespace

TEST_CASE("relu equals max(0, x) and passes the gradient where x > 0 (exact)", "[ops][relu]") {
    // Exact: selection only, no arithmetic. Large enough (100k) to use several threads.
    const auto x = integers<float>({4, 5, 100, 50}, 1), dy = uniform<float>(x.shape(), 2);
    Var<float> xv(x, true);
    Var<float> y = relu(xv);
    y.backward(dy);
    for (int64_t i = 0; i < x.numel(); ++i) {
        REQUIRE(y.value().data()[i] == std::max(0.f, x.data()[i]));
        REQUIRE(xv.grad().data()[i] == (x.data()[i] > 0 ? dy.data()[i] : 0.f));  // 0 at x == 0, as PyTorch
    }
}

TEST_CASE("relu finite-difference gradient check in double (inputs >= 0.1 away from 0)", "[ops][relu][gradcheck]") {
    gradcheck([](const std::vector<Var<double>>& v) { return relu(v[0]); },
              {away_from_zero(uniform<double>({3, 4, 5}, 3), 0.1)});
}

TEST_CASE("relu matches PyTorch golden values", "[ops][relu][golden]") {
    // Exact in both precisions: relu selects an input value or 0 and the gradient selects dy or 0.
    Var<float> x(gold<float>("ops_relu", "x"), true);
    Var<float> y = relu(x);
    y.backward(gold<float>("ops_relu", "gy"));
    ICHSEG_REQUIRE_CLOSE(y.value(), gold<double>("ops_relu", "y"), 0.0, 0.0);
    ICHSEG_REQUIRE_CLOSE(x.grad(), gold<double>("ops_relu", "dx"), 0.0, 0.0);
}

TEST_CASE("relu backward rejects a gradient of the wrong shape", "[ops][relu][bad_input]") {
    const auto y = uniform<float>({2, 3}, 1);
    ICHSEG_REQUIRE_ERROR(relu_bwd(uniform<float>({3, 2}, 2), y), {"relu_bwd", "[3, 2]", "[2, 3]"});
}

}  // namespace test_relu
