/// @file test_arithmetic.cpp
/// @brief add, mul, scale, sum, mean: exact references on integers, gradient check, PyTorch golden values,
/// fan-out of the same variable into both operands, and shape-mismatch errors.
#include <catch2/catch.hpp>

#include "ichseg/ops/arithmetic.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_arithmetic {

TEST_CASE("add and mul are element-wise with gradients (dy, dy) and (dy b, dy a), exact on integers",
          "[ops][arithmetic]") {
    // 70k elements: several threads. Integers: sums and products are exact.
    const auto a = integers<float>({7, 100, 100}, 1), b = integers<float>(a.shape(), 2), dy = integers<float>(a.shape(), 3);
    Var<float> av(a, true), bv(b, true);
    Var<float> s = add(av, bv);
    s.backward(dy);
    for (int64_t i = 0; i < a.numel(); ++i) REQUIRE(s.value().data()[i] == a.data()[i] + b.data()[i]);
    ICHSEG_REQUIRE_EQUAL(av.grad(), dy);
    ICHSEG_REQUIRE_EQUAL(bv.grad(), dy);
    av.zero_grad();
    bv.zero_grad();
    Var<float> m = mul(av, bv);
    m.backward(dy);
    for (int64_t i = 0; i < a.numel(); ++i) {
        REQUIRE(m.value().data()[i] == a.data()[i] * b.data()[i]);
        REQUIRE(av.grad().data()[i] == dy.data()[i] * b.data()[i]);
        REQUIRE(bv.grad().data()[i] == dy.data()[i] * a.data()[i]);
    }
}

TEST_CASE("x * x and x + x sum both gradient contributions (2 x dy and 2 dy)", "[ops][arithmetic]") {
    const auto x = integers<double>({3, 4}, 4), dy = integers<double>({3, 4}, 5);
    Var<double> xv(x, true);
    mul(xv, xv).backward(dy);
    for (int64_t i = 0; i < x.numel(); ++i) REQUIRE(xv.grad().data()[i] == 2 * x.data()[i] * dy.data()[i]);
    xv.zero_grad();
    add(xv, xv).backward(dy);
    for (int64_t i = 0; i < x.numel(); ++i) REQUIRE(xv.grad().data()[i] == 2 * dy.data()[i]);
}

TEST_CASE("scale, sum and mean", "[ops][arithmetic]") {
    const auto x = integers<double>({2, 3, 5}, 6);
    Var<double> xv(x, true);
    double s = 0;
    for (double v : x.to_vector()) s += v;
    Var<double> sm = sum(xv);
    REQUIRE(sm.shape() == Shape{1});
    CHECK(sm.value()(0) == s);
    Var<double> mn = mean(xv);
    CHECK(mn.value()(0) == Approx(s / 30).epsilon(1e-15));
    mn.backward();
    for (double g : xv.grad().to_vector()) CHECK(g == Approx(1.0 / 30).epsilon(1e-15));
    xv.zero_grad();
    Var<double> sc = scale(xv, -2.5);
    sc.backward(Tensor<double>::full(x.shape(), 2.0));
    for (int64_t i = 0; i < x.numel(); ++i) {
        REQUIRE(sc.value().data()[i] == -2.5 * x.data()[i]);
        REQUIRE(xv.grad().data()[i] == -5.0);
    }
}

TEST_CASE("arithmetic finite-difference gradient checks in double", "[ops][arithmetic][gradcheck]") {
    const Shape s{2, 3, 4};
    gradcheck([](const std::vector<Var<double>>& v) { return add(v[0], v[1]); }, {uniform<double>(s, 7), uniform<double>(s, 8)});
    gradcheck([](const std::vector<Var<double>>& v) { return mul(v[0], v[1]); }, {uniform<double>(s, 9), uniform<double>(s, 10)});
    gradcheck([](const std::vector<Var<double>>& v) { return scale(v[0], 0.3); }, {uniform<double>(s, 11)});
    gradcheck([](const std::vector<Var<double>>& v) { return mean(mul(v[0], v[0])); }, {uniform<double>(s, 12)});
}

TEST_CASE("add and mul match PyTorch golden values", "[ops][arithmetic][golden]") {
    const std::string f = "ops_arithmetic";
    // float: one rounding per element (the expected values are exact): 1 ulp relative; double: exact products
    // of float inputs, 1e-15.
    auto run = [&](auto zero, double rel) {
        using T = decltype(zero);
        Var<T> a(gold<T>(f, "a"), true), b(gold<T>(f, "b"), true);
        Var<T> ya = add(a, b);
        ya.backward(gold<T>(f, "gy"));
        ICHSEG_REQUIRE_CLOSE(ya.value(), gold<double>(f, "add.y"), 0.0, rel);
        ICHSEG_REQUIRE_CLOSE(a.grad(), gold<double>(f, "add.da"), 0.0, rel);
        ICHSEG_REQUIRE_CLOSE(b.grad(), gold<double>(f, "add.db"), 0.0, rel);
        a.zero_grad();
        b.zero_grad();
        Var<T> ym = mul(a, b);
        ym.backward(gold<T>(f, "gy"));
        ICHSEG_REQUIRE_CLOSE(ym.value(), gold<double>(f, "mul.y"), 0.0, rel);
        ICHSEG_REQUIRE_CLOSE(a.grad(), gold<double>(f, "mul.da"), 0.0, rel);
        ICHSEG_REQUIRE_CLOSE(b.grad(), gold<double>(f, "mul.db"), 0.0, rel);
    };
    run(0.0f, kEpsF);
    run(0.0, 1e-15);
}

TEST_CASE("add and mul reject operands of different shapes, naming the op and both shapes",
          "[ops][arithmetic][bad_input]") {
    Var<float> a(uniform<float>({2, 3}, 1)), b(uniform<float>({3, 2}, 2));
    ICHSEG_REQUIRE_ERROR(add(a, b), {"add", "[2, 3]", "[3, 2]"});
    ICHSEG_REQUIRE_ERROR(mul(a, b), {"mul", "[2, 3]", "[3, 2]"});
    ICHSEG_REQUIRE_ERROR(mean(Var<float>(Tensor<float>::empty({0, 3}))), {"mean", "[0, 3]"});
}

}  // namespace test_arithmetic
