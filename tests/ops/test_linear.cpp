/// @file test_linear.cpp
/// @brief linear: exact reference on integers, gradient check, PyTorch golden values, shape errors.
#include <catch2/catch.hpp>

#include "ichseg/ops/linear.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_linear {

TEST_CASE("linear: y = x W^T + b, dx = dy W, dW = dy^T x, db = sum dy, exact on integers", "[ops][linear]") {
    // Integers in [-4, 4] and at most 300 terms per sum: every partial sum is exact in float.
    for (auto [N, I, O] : std::vector<std::array<int64_t, 3>>{{4, 6, 5}, {1, 300, 3}, {17, 33, 65}, {64, 128, 7}}) {
        INFO("N " << N << " in " << I << " out " << O);
        const auto x = integers<float>({N, I}, 1), w = integers<float>({O, I}, 2), b = integers<float>({O}, 3);
        Var<float> xv(x, true), wv(w, true), bv(b, true);
        Var<float> y = linear(xv, wv, bv);
        ICHSEG_REQUIRE_EQUAL(y.value(), naive::linear(x, w, b));
        const auto dy = integers<float>({N, O}, 4);
        y.backward(dy);
        ICHSEG_REQUIRE_EQUAL(xv.grad(), naive::matmul(dy, false, w, false));
        ICHSEG_REQUIRE_EQUAL(wv.grad(), naive::matmul(dy, true, x, false));
        Tensor<float> db = Tensor<float>::zeros({O});
        for (int64_t n = 0; n < N; ++n)
            for (int64_t o = 0; o < O; ++o) db(o) += dy(n, o);
        ICHSEG_REQUIRE_EQUAL(bv.grad(), db);
    }
}

TEST_CASE("linear without bias", "[ops][linear]") {
    const auto x = integers<float>({3, 4}, 5), w = integers<float>({2, 4}, 6);
    Var<float> y = linear(Var<float>(x), Var<float>(w, true), Var<float>());
    ICHSEG_REQUIRE_EQUAL(y.value(), naive::linear(x, w, Tensor<float>()));
}

TEST_CASE("linear finite-difference gradient check in double", "[ops][linear][gradcheck]") {
    gradcheck([](const std::vector<Var<double>>& v) { return linear(v[0], v[1], v[2]); },
              {uniform<double>({4, 6}, 7), uniform<double>({5, 6}, 8), uniform<double>({5}, 9)});
}

TEST_CASE("linear matches PyTorch golden values", "[ops][linear][golden]") {
    const std::string f = "ops_linear";
    // float: sums of <= 6 products: 8 ulp of the tensor's scale. double: 1e-14.
    auto run = [&](auto zero, double rel) {
        using T = decltype(zero);
        Var<T> x(gold<T>(f, "x"), true), w(gold<T>(f, "w"), true), b(gold<T>(f, "b"), true);
        Var<T> y = linear(x, w, b);
        y.backward(gold<T>(f, "gy"));
        const auto ey = gold<double>(f, "y"), edx = gold<double>(f, "dx"), edw = gold<double>(f, "dw");
        const auto edb = gold<double>(f, "db");
        ICHSEG_REQUIRE_CLOSE_SCALED(y.value(), ey, rel);
        ICHSEG_REQUIRE_CLOSE_SCALED(x.grad(), edx, rel);
        ICHSEG_REQUIRE_CLOSE_SCALED(w.grad(), edw, rel);
        ICHSEG_REQUIRE_CLOSE_SCALED(b.grad(), edb, rel);
    };
    run(0.0f, 8 * kEpsF);
    run(0.0, 1e-14);
}

TEST_CASE("linear rejects mismatched shapes, naming the op and both shapes", "[ops][linear][bad_input]") {
    Var<float> x(uniform<float>({4, 6}, 1)), w(uniform<float>({5, 7}, 2)), w6(uniform<float>({5, 6}, 3));
    ICHSEG_REQUIRE_ERROR(linear(x, w, Var<float>()), {"linear", "[4, 6]", "[5, 7]"});
    ICHSEG_REQUIRE_ERROR(linear(x, w6, Var<float>(uniform<float>({6}, 4))), {"linear", "bias", "[6]"});
    ICHSEG_REQUIRE_ERROR(linear(Var<float>(uniform<float>({4, 6, 1}, 5)), w6, Var<float>()), {"linear", "[4, 6, 1]"});
}

}  // namespace test_linear
