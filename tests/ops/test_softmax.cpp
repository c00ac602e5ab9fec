/// @file test_softmax.cpp
/// @brief softmax over the last dimension: naive reference, gradient check, PyTorch golden values, stability.
#include <catch2/catch.hpp>

#include "ichseg/ops/softmax.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_softmax {

TEST_CASE("softmax equals exp(x) / sum exp(x) per row, gradient y (dy - <dy, y>)", "[ops][softmax]") {
    for (const Shape& s : {Shape{4, 5}, Shape{2, 3, 7}, Shape{9}, Shape{3, 1}}) {
        INFO("shape " << to_string(s));
        const auto x = uniform<float>(s, 1, -5, 5), dy = uniform<float>(s, 2);
        Var<float> xv(x, true);
        Var<float> y = softmax(xv);
        y.backward(dy);
        const auto ey = naive::softmax(x.cast<double>());
        // float: x - max (|.| <= 10) rounds by up to 0.5 ulp of 10, which exp turns into up to ~5 ulp relative;
        // then exp, a <= 9-term sum and a division: observed <= 5 ulp, allowed 16 ulp relative (1e-30 absolute).
        ICHSEG_REQUIRE_CLOSE(y.value(), ey, 1e-30, 16 * kEpsF);
        const int64_t K = s.back();
        std::vector<double> edx;
        for (int64_t r = 0; r < x.numel() / K; ++r) {
            double dot = 0;
            for (int64_t k = 0; k < K; ++k) dot += dy.data()[r * K + k] * ey.data()[r * K + k];
            for (int64_t k = 0; k < K; ++k) edx.push_back(ey.data()[r * K + k] * (dy.data()[r * K + k] - dot));
        }
        // the gradient subtracts <dy, y> from dy (cancellation): 16 ulp of the largest |dy| = 1.
        ICHSEG_REQUIRE_CLOSE(xv.grad(), edx, 16 * kEpsF, 16 * kEpsF);
    }
}

TEST_CASE("softmax is stable for large logits and sums to 1", "[ops][softmax]") {
    Var<float> x(Tensor<float>::from_vector({2, 3}, {1000.f, 999.f, -1000.f, -50.f, -50.f, -50.f}));
    const auto y = softmax(x).value();
    for (float v : y.to_vector()) CHECK(std::isfinite(v));
    CHECK(y(0, 0) + y(0, 1) + y(0, 2) == Approx(1.0).epsilon(1e-6));
    CHECK(y(1, 0) == Approx(1.0 / 3).epsilon(1e-6));
}

TEST_CASE("softmax finite-difference gradient check in double", "[ops][softmax][gradcheck]") {
    gradcheck([](const std::vector<Var<double>>& v) { return softmax(v[0]); }, {uniform<double>({3, 5}, 3, -2, 2)});
    gradcheck([](const std::vector<Var<double>>& v) { return softmax(v[0]); }, {uniform<double>({2, 2, 4}, 4, -2, 2)});
}

TEST_CASE("softmax matches PyTorch golden values", "[ops][softmax][golden]") {
    for (const std::string c : {"2d", "3d"}) {
        INFO("case " << c);
        auto run = [&](auto zero, double rel) {
            using T = decltype(zero);
            Var<T> x(gold<T>("ops_softmax", c + ".x"), true);
            Var<T> y = softmax(x);
            y.backward(gold<T>("ops_softmax", c + ".gy"));
            const auto ey = gold<double>("ops_softmax", c + ".y"), edx = gold<double>("ops_softmax", c + ".dx");
            REQUIRE(y.shape() == ey.shape());
            ICHSEG_REQUIRE_CLOSE_SCALED(y.value(), ey, rel);
            ICHSEG_REQUIRE_CLOSE_SCALED(x.grad(), edx, rel);
        };
        run(0.0f, 16 * kEpsF);  // exp, a 5-term sum, a division, a dot product: 16 ulp of the scale
        run(0.0, 1e-14);
    }
}

TEST_CASE("softmax rejects a scalar", "[ops][softmax][bad_input]") {
    Var<float> s(Tensor<float>::zeros({}));
    ICHSEG_REQUIRE_ERROR(softmax(s), {"softmax", "[]"});
}

}  // namespace test_softmax
