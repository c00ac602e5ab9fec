/// @file test_conv_transpose2d.cpp
/// @brief conv_transpose2d: naive scatter-loop reference (exact on integers), gradient check in double,
/// PyTorch golden values, the deconv identity with conv2d, and bad-input errors.
#include <catch2/catch.hpp>

#include "ichseg/ops/conv_transpose2d.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/naive.hpp"
#include "support/threads.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_conv_transpose2d {

namespace {
struct Geom {
    Shape x, w;  // w: (Cin, Cout, R, S)
    int64_t s, p, op;
};
// The U-Net's 2x2 stride 2, plus odd sizes, stride 1, padding, output padding, a 3x3 stride 2 and >= 8 channels.
// The last two are 2x2 stride 2 (cpu::convt2x2) with enough work to run on several threads: three images (wgrad
// sums per-thread partials), and one image cut into several row blocks (64 channels, 64 rows).
const std::vector<Geom> kGeoms = {
    {{2, 4, 3, 5}, {4, 3, 2, 2}, 2, 0, 0},  {{1, 3, 4, 3}, {3, 2, 3, 3}, 2, 1, 1},   {{2, 2, 5, 4}, {2, 3, 3, 3}, 1, 1, 0},
    {{1, 16, 4, 4}, {16, 8, 2, 2}, 2, 0, 0}, {{3, 1, 1, 1}, {1, 2, 2, 2}, 2, 0, 0},   {{1, 2, 3, 3}, {2, 2, 3, 3}, 3, 0, 2},
    {{3, 16, 8, 8}, {16, 8, 2, 2}, 2, 0, 0}, {{1, 64, 64, 8}, {64, 64, 2, 2}, 2, 0, 0},
};
ConvTranspose2dParams params_of(const Geom& g) { return {g.s, g.s, g.p, g.p, g.op, g.op}; }
}  // namespace

TEST_CASE("conv_transpose2d forward and gradients equal the naive loops exactly on integers",
          "[ops][conv_transpose2d]") {
    // Integers in [-4, 4]: all partial sums are exact in float, so any summation order gives the naive result.
    // On 1 and 3 threads: the 2x2 stride-2 path splits row blocks over threads and sums per-thread partials.
    for (int threads : {1, 3})
    for (const Geom& g : kGeoms) {
        ScopedThreads scoped(threads);
        uint64_t seed = 100 + 10 * static_cast<uint64_t>(&g - kGeoms.data());
        INFO("threads " << threads << " x " << to_string(g.x) << " w " << to_string(g.w) << " s " << g.s << " p "
                        << g.p << " op " << g.op);
        const auto x = integers<float>(g.x, seed++), w = integers<float>(g.w, seed++);
        const auto b = integers<float>({g.w[1]}, seed++);
        Var<float> xv(x, true), wv(w, true), bv(b, true);
        Var<float> y = conv_transpose2d(xv, wv, bv, params_of(g));
        ICHSEG_REQUIRE_EQUAL(y.value(), naive::conv_transpose2d(x, w, b, g.s, g.p, g.op));
        const auto dy = integers<float>(y.shape(), seed++);
        y.backward(dy);
        ICHSEG_REQUIRE_EQUAL(xv.grad(), naive::conv_transpose2d_dx(dy, w, g.x, g.s, g.p));
        ICHSEG_REQUIRE_EQUAL(wv.grad(), naive::conv_transpose2d_dw(dy, x, g.w, g.s, g.p));
        ICHSEG_REQUIRE_EQUAL(bv.grad(), naive::channel_sum(dy));
        // without bias
        ICHSEG_REQUIRE_EQUAL(conv_transpose2d_fprop(x, w, Tensor<float>(), params_of(g)),
                             naive::conv_transpose2d(x, w, Tensor<float>(), g.s, g.p, g.op));
    }
}

TEST_CASE("conv_transpose2d forward is conv2d's dgrad and its dgrad is conv2d's fprop", "[ops][conv_transpose2d]") {
    const Geom g = kGeoms[0];
    const auto x = integers<float>(g.x, 7), w = integers<float>(g.w, 8);
    const auto y = conv_transpose2d_fprop(x, w, Tensor<float>(), params_of(g));
    const Conv2dParams cp{g.s, g.s, g.p, g.p};
    ICHSEG_REQUIRE_EQUAL(y, conv2d_dgrad(x, w, y.shape(), cp));
    const auto dy = integers<float>(y.shape(), 9);
    ICHSEG_REQUIRE_EQUAL(conv_transpose2d_dgrad(dy, w, params_of(g)), conv2d_fprop(dy, w, Tensor<float>(), cp));
}

TEST_CASE("conv_transpose2d finite-difference gradient check in double", "[ops][conv_transpose2d][gradcheck]") {
    // Bilinear in (x, w) plus the bias: no kinks.
    for (const Geom& g : {kGeoms[0], kGeoms[1], kGeoms[2], kGeoms[5]}) {
        INFO("x " << to_string(g.x) << " w " << to_string(g.w));
        const auto p = params_of(g);
        gradcheck([&](const std::vector<Var<double>>& v) { return conv_transpose2d(v[0], v[1], v[2], p); },
                  {uniform<double>(g.x, 11), uniform<double>(g.w, 12), uniform<double>({g.w[1]}, 13)});
    }
}

TEST_CASE("conv_transpose2d matches PyTorch golden values", "[ops][conv_transpose2d][golden]") {
    const std::string f = "ops_conv_transpose2d";
    for (const std::string c : {"k2s2", "k3s2p1op1"}) {
        INFO("case " << c);
        const auto sp = gold<int64_t>(f, c + ".params");
        const ConvTranspose2dParams p{sp(0), sp(0), sp(1), sp(1), sp(2), sp(2)};
        // float32: sums of <= Cin*R*S = 27 products per output and <= N*H*W = 30 per weight gradient; 16 ulp of
        // the tensor's scale is ~3 * sqrt(27) ulp, several times the observed error. float64: 1e-12.
        auto run = [&](auto zero, double rel) {
            using T = decltype(zero);
            Var<T> x(gold<T>(f, c + ".x"), true), w(gold<T>(f, c + ".w"), true), b(gold<T>(f, c + ".b"), true);
            Var<T> y = conv_transpose2d(x, w, b, p);
            const auto ey = gold<double>(f, c + ".y");
            REQUIRE(y.shape() == ey.shape());
            y.backward(gold<T>(f, c + ".gy"));
            ICHSEG_REQUIRE_CLOSE_SCALED(y.value(), ey, rel);
            const auto edx = gold<double>(f, c + ".dx"), edw = gold<double>(f, c + ".dw");
            const auto edb = gold<double>(f, c + ".db");
            ICHSEG_REQUIRE_CLOSE_SCALED(x.grad(), edx, rel);
            ICHSEG_REQUIRE_CLOSE_SCALED(w.grad(), edw, rel);
            ICHSEG_REQUIRE_CLOSE_SCALED(b.grad(), edb, rel);
        };
        run(0.0f, 16 * kEpsF);
        run(0.0, 1e-12);
    }
}

TEST_CASE("conv_transpose2d rejects mismatched shapes with the op name and both shapes",
          "[ops][conv_transpose2d][bad_input]") {
    const auto x = uniform<float>({2, 4, 3, 5}, 1);
    const auto w = uniform<float>({3, 3, 2, 2}, 2);  // expects 3 input channels
    ICHSEG_REQUIRE_ERROR(conv_transpose2d_fprop(x, w, Tensor<float>(), {2, 2, 0, 0, 0, 0}),
                         {"conv_transpose2d", "[2, 4, 3, 5]", "[3, 3, 2, 2]"});
    const auto w4 = uniform<float>({4, 3, 2, 2}, 3);
    ICHSEG_REQUIRE_ERROR(conv_transpose2d_fprop(x, w4, uniform<float>({4}, 4), {2, 2, 0, 0, 0, 0}),
                         {"conv_transpose2d", "bias", "[4]"});
    ICHSEG_REQUIRE_ERROR(conv_transpose2d_fprop(uniform<float>({4, 3, 5}, 5), w4, Tensor<float>(), {}),
                         {"conv_transpose2d", "input", "[4, 3, 5]"});
    ICHSEG_REQUIRE_ERROR(conv_transpose2d_fprop(x, w4, Tensor<float>(), {2, 2, 0, 0, 2, 2}),
                         {"conv_transpose2d", "output padding"});
    Var<float> xv(x, true), wv(w, true);
    ICHSEG_REQUIRE_ERROR(conv_transpose2d(xv, wv, Var<float>(), {2, 2, 0, 0, 0, 0}),
                         {"conv_transpose2d", "[2, 4, 3, 5]", "[3, 3, 2, 2]"});
}

}  // namespace test_conv_transpose2d
