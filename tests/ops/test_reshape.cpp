/// @file test_reshape.cpp
/// @brief reshape / flatten: values and gradients keep row-major order (exact), views share memory, golden
/// values from PyTorch, and element-count mismatches name the op and both shapes.
#include <catch2/catch.hpp>

#include "ichseg/ops/reshape.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_reshape {

TEST_CASE("reshape and flatten keep row-major order, gradients are reshaped back", "[ops][reshape]") {
    const auto x = integers<float>({2, 3, 4, 5}, 1);
    Var<float> xv(x, true);
    Var<float> f = flatten(xv);
    REQUIRE(f.shape() == Shape{2, 60});
    CHECK(f.value().shares_buffer_with(x));  // a view, no copy
    CHECK(f.value().to_vector() == x.to_vector());
    const auto dy = integers<float>({2, 60}, 2);
    f.backward(dy);
    REQUIRE(xv.grad().shape() == x.shape());
    CHECK(xv.grad().to_vector() == dy.to_vector());

    Var<float> r = reshape(Var<float>(x, true), {-1, 20});
    REQUIRE(r.shape() == Shape{6, 20});
    CHECK(r.value().to_vector() == x.to_vector());
}

TEST_CASE("reshape of a non-contiguous value copies it in row-major order of the view", "[ops][reshape]") {
    const auto big = integers<float>({4, 6}, 3);
    const Tensor<float> cols = big.narrow(1, 1, 3);  // (4, 3), not contiguous
    Var<float> v(cols, true);
    Var<float> r = reshape(v, {12});
    for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 3; ++j) REQUIRE(r.value()(i * 3 + j) == big(i, j + 1));
    r.backward(Tensor<float>::full({12}, 1.f));
    REQUIRE(v.grad().shape() == Shape{4, 3});
}

TEST_CASE("reshape finite-difference gradient check in double", "[ops][reshape][gradcheck]") {
    gradcheck([](const std::vector<Var<double>>& v) { return flatten(v[0]); }, {uniform<double>({2, 3, 2, 2}, 4)});
    gradcheck([](const std::vector<Var<double>>& v) { return reshape(v[0], {4, -1}); }, {uniform<double>({2, 3, 2, 2}, 5)});
}

TEST_CASE("reshape and flatten match PyTorch golden values", "[ops][reshape][golden]") {
    // Exact: no arithmetic.
    const std::string f = "ops_reshape";
    Var<float> x(gold<float>(f, "x"), true);
    Var<float> y = flatten(x);
    y.backward(gold<float>(f, "flatten.gy"));
    REQUIRE(y.shape() == gold<double>(f, "flatten.y").shape());
    ICHSEG_REQUIRE_CLOSE(y.value(), gold<double>(f, "flatten.y"), 0.0, 0.0);
    ICHSEG_REQUIRE_CLOSE(x.grad(), gold<double>(f, "flatten.dx"), 0.0, 0.0);
    x.zero_grad();
    Var<float> y2 = reshape(x, {6, 20});
    y2.backward(gold<float>(f, "reshape.gy"));
    ICHSEG_REQUIRE_CLOSE(y2.value(), gold<double>(f, "reshape.y"), 0.0, 0.0);
    ICHSEG_REQUIRE_CLOSE(x.grad(), gold<double>(f, "reshape.dx"), 0.0, 0.0);
}

TEST_CASE("reshape rejects an element-count mismatch, naming the op and both shapes", "[ops][reshape][bad_input]") {
    Var<float> x(uniform<float>({2, 3, 4}, 1));
    ICHSEG_REQUIRE_ERROR(reshape(x, {5, 5}), {"reshape", "[2, 3, 4]", "[5, 5]"});
    ICHSEG_REQUIRE_ERROR(reshape(x, {-1, 5}), {"reshape", "[2, 3, 4]", "[-1, 5]"});
    ICHSEG_REQUIRE_ERROR(reshape(x, {-1, -1}), {"reshape", "[2, 3, 4]"});
    ICHSEG_REQUIRE_ERROR(flatten(Var<float>(Tensor<float>::zeros({}))), {"flatten"});
}

}  // namespace test_reshape
