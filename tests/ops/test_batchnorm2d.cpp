/// @file test_batchnorm2d.cpp
/// @brief batchnorm2d (train with running-stat update, eval, fused ReLU): textbook naive reference, gradient
/// check in double, PyTorch golden values, the eval-mode affine identity, and bad-input errors.
#include <catch2/catch.hpp>

#include "ichseg/ops/batchnorm2d.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_batchnorm2d {

namespace {
template <class T>
struct BnRun {
    Var<T> y;
    Tensor<T> dx, dgamma, dbeta, rm, rv;
};
template <class T>
BnRun<T> run_bn(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta, const Tensor<T>& rm0,
                const Tensor<T>& rv0, bool training, bool relu, const Tensor<T>& dy) {
    Var<T> xv(x.clone(), true), gv(gamma.clone(), true), bv(beta.clone(), true);
    BnRun<T> r;
    r.rm = rm0.clone();
    r.rv = rv0.clone();
    r.y = batchnorm2d(xv, gv, bv, r.rm, r.rv, training, {1e-5, 0.1, relu});
    r.y.backward(dy);
    r.dx = xv.grad();
    r.dgamma = gv.grad();
    r.dbeta = bv.grad();
    return r;
}
}  // namespace

TEST_CASE("batchnorm2d equals the textbook formulas (train, eval, fused ReLU)", "[ops][batchnorm2d]") {
    for (const Shape& s : {Shape{3, 4, 5, 5}, Shape{1, 2, 7, 3}, Shape{4, 3, 1, 1}, Shape{2, 5, 16, 16}}) {
        for (bool training : {true, false})
            for (bool relu : {false, true}) {
                INFO("shape " << to_string(s) << " training " << training << " relu " << relu);
                const int64_t C = s[1];
                auto check = [&](auto zero, double rel) {
                    using T = decltype(zero);
                    const auto x = uniform<T>(s, 1, -2.0, 3.0), dy = uniform<T>(s, 2);
                    const auto gamma = uniform<T>({C}, 3, 0.5, 1.5), beta = uniform<T>({C}, 4);
                    const auto rm = uniform<T>({C}, 5, -0.3, 0.3), rv = uniform<T>({C}, 6, 0.5, 1.5);
                    auto got = run_bn(x, gamma, beta, rm, rv, training, relu, dy);
                    auto ref = naive::batchnorm2d(x, gamma, beta, rm, rv, training, relu, dy);
                    ICHSEG_REQUIRE_CLOSE_SCALED(got.y.value(), ref.y, rel);
                    ICHSEG_REQUIRE_CLOSE_SCALED(got.dx, ref.dx, rel);
                    ICHSEG_REQUIRE_CLOSE_SCALED(got.dgamma, ref.dgamma, rel);
                    ICHSEG_REQUIRE_CLOSE_SCALED(got.dbeta, ref.dbeta, rel);
                    ICHSEG_REQUIRE_CLOSE(got.rm, ref.running_mean, rel, rel);
                    ICHSEG_REQUIRE_CLOSE(got.rv, ref.running_var, rel, rel);
                };
                // float: statistics are sums over N*H*W <= 512 values (vectorised partial sums in float); the
                // normalised output and the gradients inherit up to ~sqrt(512) = 23 ulp of their scale; allowed
                // 32 ulp (observed <= 1.5 ulp). double: 1e-12.
                check(0.0f, 32 * kEpsF);
                check(0.0, 1e-12);
            }
    }
}

TEST_CASE("batchnorm2d training updates the running statistics like PyTorch (unbiased variance)",
          "[ops][batchnorm2d]") {
    // x = [1, 2, 3, 4] in one channel: mean 2.5, biased var 1.25, unbiased var 5/3.
    Var<double> x(Tensor<double>::from_vector({1, 1, 2, 2}, {1, 2, 3, 4}));
    Tensor<double> rm = Tensor<double>::from_vector({1}, {1.0}), rv = Tensor<double>::from_vector({1}, {2.0});
    Var<double> y = batchnorm2d(x, Var<double>(), Var<double>(), rm, rv, true, {1e-5, 0.25, false});
    CHECK(rm(0) == Approx(0.75 * 1.0 + 0.25 * 2.5).epsilon(1e-15));
    CHECK(rv(0) == Approx(0.75 * 2.0 + 0.25 * 5.0 / 3.0).epsilon(1e-15));
    // no affine parameters: y = (x - mean) / sqrt(var + eps)
    const double is = 1 / std::sqrt(1.25 + 1e-5);
    ICHSEG_REQUIRE_CLOSE(y.value(), std::vector<double>({-1.5 * is, -0.5 * is, 0.5 * is, 1.5 * is}), 1e-15, 1e-14);
    // eval mode leaves them untouched and uses them
    const double rm1 = rm(0), rv1 = rv(0);
    Var<double> ye = batchnorm2d(x, Var<double>(), Var<double>(), rm, rv, false, {1e-5, 0.25, false});
    CHECK(rm(0) == rm1);
    CHECK(rv(0) == rv1);
    CHECK(ye.value()(0, 0, 0, 0) == Approx((1 - rm1) / std::sqrt(rv1 + 1e-5)).epsilon(1e-14));
}

TEST_CASE("batchnorm2d in eval mode is the affine map gamma * (x - rm) / sqrt(rv + eps) + beta",
          "[ops][batchnorm2d]") {
    const auto x = uniform<double>({2, 3, 4, 4}, 7), gamma = uniform<double>({3}, 8), beta = uniform<double>({3}, 9);
    const auto rm = uniform<double>({3}, 10), rv = uniform<double>({3}, 11, 0.2, 2.0);
    Var<double> y = batchnorm2d(Var<double>(x), Var<double>(gamma), Var<double>(beta), rm, rv, false);
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t i = 0; i < 4; ++i)
                for (int64_t j = 0; j < 4; ++j) {
                    const double e = gamma(c) * (x(n, c, i, j) - rm(c)) / std::sqrt(rv(c) + 1e-5) + beta(c);
                    REQUIRE(y.value()(n, c, i, j) == Approx(e).epsilon(1e-14));
                }
}

TEST_CASE("batchnorm2d finite-difference gradient check in double", "[ops][batchnorm2d][gradcheck]") {
    const Shape s{3, 2, 3, 4};
    const auto rm = uniform<double>({2}, 21, -0.3, 0.3), rv = uniform<double>({2}, 22, 0.5, 1.5);
    for (bool training : {true, false})
        for (bool relu : {false, true}) {
            INFO("training " << training << " relu " << relu);
            // Running statistics are not passed in training mode (the probe would otherwise update them).
            auto f = [&](const std::vector<Var<double>>& v) {
                return training ? batchnorm2d(v[0], v[1], v[2], Tensor<double>(), Tensor<double>(), true,
                                              {1e-5, 0.1, relu})
                                : batchnorm2d(v[0], v[1], v[2], rm, rv, false, {1e-5, 0.1, relu});
            };
            // With ReLU, keep every pre-activation at least 1e-3 from the kink (the probe moves it by ~1e-6):
            // pick the first seed whose data satisfy that, and assert it.
            Tensor<double> x, gamma, beta;
            for (uint64_t seed = 30;; ++seed) {
                REQUIRE(seed < 200);
                x = uniform<double>(s, seed, -2.0, 2.0);
                gamma = uniform<double>({2}, seed + 1000, 0.5, 1.5);
                beta = uniform<double>({2}, seed + 2000, -0.5, 0.5);
                if (!relu) break;
                const auto pre = batchnorm2d(Var<double>(x), Var<double>(gamma), Var<double>(beta),
                                             training ? Tensor<double>() : rm, training ? Tensor<double>() : rv,
                                             training, {1e-5, 0.1, false});
                double margin = 1e9;
                for (double v : pre.value().to_vector()) margin = std::min(margin, std::abs(v));
                if (margin > 1e-3) break;
            }
            gradcheck(f, {x, gamma, beta});
        }
}

TEST_CASE("batchnorm2d matches PyTorch golden values", "[ops][batchnorm2d][golden]") {
    const std::string f = "ops_batchnorm2d";
    for (const std::string c : {"train", "train_relu", "eval", "eval_relu"}) {
        INFO("case " << c);
        const bool training = c.rfind("train", 0) == 0, relu = c.find("relu") != std::string::npos;
        // float: statistics over N*H*W = 75 values per channel; 32 ulp of the scale (as in the naive test).
        auto run = [&](auto zero, double rel) {
            using T = decltype(zero);
            auto got = run_bn(gold<T>(f, "x"), gold<T>(f, "gamma"), gold<T>(f, "beta"), gold<T>(f, "running_mean0"),
                              gold<T>(f, "running_var0"), training, relu, gold<T>(f, "gy"));
            const auto ey = gold<double>(f, c + ".y"), edx = gold<double>(f, c + ".dx");
            const auto edg = gold<double>(f, c + ".dgamma"), edb = gold<double>(f, c + ".dbeta");
            const auto erm = gold<double>(f, c + ".running_mean"), erv = gold<double>(f, c + ".running_var");
            ICHSEG_REQUIRE_CLOSE_SCALED(got.y.value(), ey, rel);
            ICHSEG_REQUIRE_CLOSE_SCALED(got.dx, edx, rel);
            ICHSEG_REQUIRE_CLOSE_SCALED(got.dgamma, edg, rel);
            ICHSEG_REQUIRE_CLOSE_SCALED(got.dbeta, edb, rel);
            ICHSEG_REQUIRE_CLOSE(got.rm, erm, rel, rel);
            ICHSEG_REQUIRE_CLOSE(got.rv, erv, rel, rel);
        };
        run(0.0f, 32 * kEpsF);
        run(0.0, 1e-12);
    }
}

TEST_CASE("batchnorm2d rejects mismatched shapes with the op name and the shapes", "[ops][batchnorm2d][bad_input]") {
    Var<float> x(uniform<float>({2, 3, 4, 4}, 1), true);
    Var<float> g3(uniform<float>({3}, 2), true), g4(uniform<float>({4}, 3), true);
    Tensor<float> rm = Tensor<float>::zeros({3}), rv = Tensor<float>::full({3}, 1.f);
    ICHSEG_REQUIRE_ERROR(batchnorm2d(x, g4, g3, rm, rv, true), {"batchnorm2d", "weight", "[2, 3, 4, 4]", "[4]"});
    ICHSEG_REQUIRE_ERROR(batchnorm2d(x, g3, g4, rm, rv, true), {"batchnorm2d", "bias", "[2, 3, 4, 4]", "[4]"});
    ICHSEG_REQUIRE_ERROR(batchnorm2d(x, g3, g3, Tensor<float>::zeros({4}), rv, false),
                         {"batchnorm2d", "running statistics", "[4]"});
    ICHSEG_REQUIRE_ERROR(batchnorm2d(x, g3, g3, Tensor<float>(), Tensor<float>(), false),
                         {"batchnorm2d", "running statistics are required"});
    Var<float> x3(uniform<float>({2, 3, 4}, 4));
    ICHSEG_REQUIRE_ERROR(batchnorm2d(x3, g3, g3, rm, rv, true), {"batchnorm2d", "input", "[2, 3, 4]"});
    Var<float> one(uniform<float>({1, 3, 1, 1}, 5));
    ICHSEG_REQUIRE_ERROR(batchnorm2d(one, g3, g3, rm, rv, true), {"batchnorm2d", "more than one value", "[1, 3, 1, 1]"});
    // a failed call leaves the running statistics untouched
    CHECK(rm.to_vector() == std::vector<float>(3, 0.f));
    CHECK(rv.to_vector() == std::vector<float>(3, 1.f));
}

}  // namespace test_batchnorm2d
