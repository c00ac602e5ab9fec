/// @file test_max_pool2d.cpp
/// @brief max_pool2d 2x2: naive reference (exact), tie rule, gradient check without ties, PyTorch golden
/// values, bad input.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include "ichseg/ops/max_pool2d.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_max_pool2d {

TEST_CASE("max_pool2d picks the window maximum and routes dy to the first maximum (exact)", "[ops][max_pool2d]") {
    // Integer fills in [-4, 4] have many ties: the gradient must go to the first maximum in row-major window
    // order, as in PyTorch. Odd sizes are floored. {2, 3, 6, 36}: 18 windows per row, eight at a time through the
    // vectorised float path and a scalar tail of two.
    for (const Shape& s :
         {Shape{2, 3, 6, 8}, Shape{1, 2, 7, 5}, Shape{3, 1, 2, 2}, Shape{2, 4, 33, 31}, Shape{2, 3, 6, 36}}) {
        INFO("shape " << to_string(s));
        const auto x = integers<float>(s, 1);
        Var<float> xv(x, true);
        Var<float> y = max_pool2d(xv);
        const auto dy = integers<float>(y.shape(), 2);
        y.backward(dy);
        auto [ey, edx] = naive::max_pool2d(x, dy);
        ICHSEG_REQUIRE_EQUAL(y.value(), ey);
        ICHSEG_REQUIRE_EQUAL(xv.grad(), edx);
    }
}

TEST_CASE("max_pool2d propagates NaN and routes dy to the window's first NaN", "[ops][max_pool2d]") {
    // As torch.max_pool2d: a window holding NaN outputs NaN, and its gradient goes to the first NaN in row-major
    // window order. NaNs sit in windows of the vectorised part (columns < 16) and of the scalar tail.
    const Shape s{1, 2, 4, 20};
    auto x = integers<float>(s, 5);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<std::array<int64_t, 3>> nans = {{0, 0, 3}, {0, 1, 2}, {0, 1, 3},
                                                      {1, 2, 9}, {1, 3, 18}, {1, 2, 19}};
    for (auto [c, h, w] : nans) x(0, c, h, w) = nan;
    Var<float> xv(x, true);
    Var<float> y = max_pool2d(xv);
    const auto dy = integers<float>(y.shape(), 6);
    y.backward(dy);
    for (int64_t c = 0; c < 2; ++c)
        for (int64_t p = 0; p < 2; ++p)
            for (int64_t q = 0; q < 10; ++q) {
                // expected: the first NaN of the window, else the first maximum
                int64_t bi = -1, bj = -1;
                for (int64_t r = 0; r < 2 && bi < 0; ++r)
                    for (int64_t t = 0; t < 2 && bi < 0; ++t)
                        if (std::isnan(x(0, c, 2 * p + r, 2 * q + t))) bi = 2 * p + r, bj = 2 * q + t;
                if (bi < 0) {
                    bi = 2 * p, bj = 2 * q;
                    for (int64_t r = 0; r < 2; ++r)
                        for (int64_t t = 0; t < 2; ++t)
                            if (x(0, c, 2 * p + r, 2 * q + t) > x(0, c, bi, bj)) bi = 2 * p + r, bj = 2 * q + t;
                }
                INFO("channel " << c << " window " << p << "," << q);
                const float ey = x(0, c, bi, bj);
                CHECK((std::isnan(ey) ? std::isnan(y.value()(0, c, p, q)) : y.value()(0, c, p, q) == ey));
                for (int64_t r = 0; r < 2; ++r)
                    for (int64_t t = 0; t < 2; ++t) {
                        const int64_t i = 2 * p + r, j = 2 * q + t;
                        CHECK(xv.grad()(0, c, i, j) == (i == bi && j == bj ? dy(0, c, p, q) : 0.f));
                    }
            }
}

TEST_CASE("max_pool2d with kernel 3 stride 2 (overlapping windows accumulate)", "[ops][max_pool2d]") {
    const auto x = integers<float>({1, 2, 7, 9}, 3);
    Var<float> xv(x, true);
    Var<float> y = max_pool2d(xv, {3, 2});
    const auto dy = integers<float>(y.shape(), 4);
    y.backward(dy);
    auto [ey, edx] = naive::max_pool2d(x, dy, 3, 2);
    ICHSEG_REQUIRE_EQUAL(y.value(), ey);
    ICHSEG_REQUIRE_EQUAL(xv.grad(), edx);
}

TEST_CASE("max_pool2d finite-difference gradient check in double (distinct values)", "[ops][max_pool2d][gradcheck]") {
    // A permutation of 0.01 * k: values 1e-2 apart, so the 1e-6 probe never changes an argmax.
    Tensor<double> x = Tensor<double>::empty({2, 2, 4, 6});
    std::vector<int64_t> perm(static_cast<size_t>(x.numel()));
    std::iota(perm.begin(), perm.end(), 0);
    for (size_t i = perm.size(); i-- > 1;) std::swap(perm[i], perm[random_u32(5, 0, i) % (i + 1)]);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = 0.01 * static_cast<double>(perm[static_cast<size_t>(i)]);
    gradcheck([](const std::vector<Var<double>>& v) { return max_pool2d(v[0]); }, {x});
}

TEST_CASE("max_pool2d matches PyTorch golden values", "[ops][max_pool2d][golden]") {
    // Exact: selection only.
    for (const std::string c : {"even", "odd"}) {
        const std::string f = "ops_max_pool2d";
        Var<float> x(gold<float>(f, c + ".x"), true);
        Var<float> y = max_pool2d(x);
        y.backward(gold<float>(f, c + ".gy"));
        REQUIRE(y.shape() == gold<double>(f, c + ".y").shape());
        ICHSEG_REQUIRE_CLOSE(y.value(), gold<double>(f, c + ".y"), 0.0, 0.0);
        ICHSEG_REQUIRE_CLOSE(x.grad(), gold<double>(f, c + ".dx"), 0.0, 0.0);
    }
}

TEST_CASE("max_pool2d rejects bad shapes, naming the op and the shape", "[ops][max_pool2d][bad_input]") {
    ICHSEG_REQUIRE_ERROR(max_pool2d(Var<float>(uniform<float>({2, 3, 4}, 1))), {"max_pool2d", "[2, 3, 4]"});
    ICHSEG_REQUIRE_ERROR(max_pool2d(Var<float>(uniform<float>({2, 3, 1, 4}, 1))), {"max_pool2d", "[2, 3, 1, 4]"});
    ICHSEG_REQUIRE_ERROR(max_pool2d(Var<float>(uniform<float>({2, 3, 4, 4}, 1)), {0, 2}), {"max_pool2d", "kernel"});
}

}  // namespace test_max_pool2d
