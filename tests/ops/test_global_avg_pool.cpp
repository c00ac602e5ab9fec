/// @file test_global_avg_pool.cpp
/// @brief global_avg_pool: naive reference, gradient check, PyTorch golden values, bad input.
#include <catch2/catch.hpp>

#include "ichseg/ops/global_avg_pool.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_global_avg_pool {

TEST_CASE("global_avg_pool is the plane mean, its gradient spreads dy / (H W)", "[ops][global_avg_pool]") {
    // Exact: both ichseg and the reference sum integer values in double and divide once by H*W, then round.
    const auto x = integers<float>({3, 4, 5, 7}, 1);
    Var<float> xv(x, true);
    Var<float> y = global_avg_pool(xv);
    ICHSEG_REQUIRE_EQUAL(y.value(), naive::global_avg_pool(x));
    const auto dy = integers<float>({3, 4}, 2);
    y.backward(dy);
    for (int64_t n = 0; n < 3; ++n)
        for (int64_t c = 0; c < 4; ++c)
            for (int64_t i = 0; i < 5; ++i)
                for (int64_t j = 0; j < 7; ++j) REQUIRE(xv.grad()(n, c, i, j) == dy(n, c) / 35.f);
}

TEST_CASE("global_avg_pool finite-difference gradient check in double", "[ops][global_avg_pool][gradcheck]") {
    gradcheck([](const std::vector<Var<double>>& v) { return global_avg_pool(v[0]); }, {uniform<double>({2, 3, 4, 5}, 3)});
}

TEST_CASE("global_avg_pool matches PyTorch golden values", "[ops][global_avg_pool][golden]") {
    const std::string f = "ops_global_avg_pool";
    // float: a double-accumulated mean rounded once, and dy / 30 rounded once: 1 ulp relative. double: 1e-15.
    auto run = [&](auto zero, double rel) {
        using T = decltype(zero);
        Var<T> x(gold<T>(f, "x"), true);
        Var<T> y = global_avg_pool(x);
        y.backward(gold<T>(f, "gy"));
        REQUIRE(y.shape() == gold<double>(f, "y").shape());
        ICHSEG_REQUIRE_CLOSE(y.value(), gold<double>(f, "y"), 0.0, rel);
        ICHSEG_REQUIRE_CLOSE(x.grad(), gold<double>(f, "dx"), 0.0, rel);
    };
    run(0.0f, kEpsF);
    run(0.0, 1e-15);
}

TEST_CASE("global_avg_pool rejects non-4-D or empty input", "[ops][global_avg_pool][bad_input]") {
    ICHSEG_REQUIRE_ERROR(global_avg_pool(Var<float>(uniform<float>({2, 3, 4}, 1))), {"global_avg_pool", "[2, 3, 4]"});
    ICHSEG_REQUIRE_ERROR(global_avg_pool(Var<float>(Tensor<float>::empty({2, 3, 0, 4}))),
                         {"global_avg_pool", "[2, 3, 0, 4]"});
}

}  // namespace test_global_avg_pool
