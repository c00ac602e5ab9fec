/// @file test_conv2d.cpp
/// @brief conv2d: naive-loop reference (exact on integer inputs, every algorithm), finite-difference gradient
/// check in double, PyTorch golden values, identities, and bad-input errors.
#include <catch2/catch.hpp>

#include "ichseg/ops/conv2d.hpp"
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
namespace test_conv2d {

namespace {

struct Geom {
    Shape x, w;
    int64_t sh, sw, ph, pw;
};

// Edge list: 3x3 pad 1 (the U-Net), 1x1, stride 2 with odd sizes, rectangular kernel with asymmetric stride and
// padding, padding >= kernel/2, N = 1, C not a multiple of 4, and >= 8 channels (float: Winograd).
const std::vector<Geom> kGeoms = {
    {{2, 3, 6, 5}, {4, 3, 3, 3}, 1, 1, 1, 1},  {{2, 5, 4, 4}, {3, 5, 1, 1}, 1, 1, 0, 0},
    {{2, 3, 7, 9}, {4, 3, 3, 3}, 2, 2, 1, 1},  {{1, 2, 7, 6}, {3, 2, 3, 2}, 2, 1, 1, 0},
    {{1, 3, 5, 5}, {2, 3, 3, 3}, 1, 1, 2, 2},  {{2, 4, 6, 6}, {3, 4, 1, 1}, 2, 2, 0, 0},
    {{1, 1, 8, 8}, {2, 1, 5, 5}, 3, 3, 0, 0},  {{2, 8, 6, 6}, {8, 8, 3, 3}, 1, 1, 1, 1},
    {{1, 9, 7, 5}, {10, 9, 3, 3}, 1, 1, 1, 1}, {{3, 16, 4, 4}, {8, 16, 3, 3}, 1, 1, 1, 1},
};

Conv2dParams params_of(const Geom& g, ConvAlgorithm a = ConvAlgorithm::Auto) {
    return {g.sh, g.sw, g.ph, g.pw, a};
}
naive::Conv naive_of(const Geom& g) { return {g.sh, g.sw, g.ph, g.pw}; }

bool winograd_applies(const Geom& g) {
    return g.w[2] == 3 && g.w[3] == 3 && g.sh == 1 && g.sw == 1 && g.ph == 1 && g.pw == 1 && g.x[1] >= 8 &&
           g.w[0] >= 8;
}

/// Puts cpu::winograd::tuning() (which tests set to force a schedule or chunk size) back to automatic at scope exit.
struct RestoreWinogradTuning {
    ~RestoreWinogradTuning() { cpu::winograd::tuning() = cpu::winograd::Tuning{}; }
};

}  // namespace

TEST_CASE("conv2d fprop/dgrad/wgrad equal the naive loops exactly on integer inputs", "[ops][conv2d]") {
    // Integers in [-4, 4]: every product and partial sum (< 2^24) is exact in float, and Winograd's transform
    // points (0, +-1, +-1/2) keep every intermediate a small multiple of 1/4, so any correct summation order
    // gives exactly the naive result.
    uint64_t seed = 1;
    for (const Geom& g : kGeoms) {
        for (ConvAlgorithm algo : {ConvAlgorithm::Auto, ConvAlgorithm::Im2colGemm, ConvAlgorithm::Winograd}) {
            if (algo == ConvAlgorithm::Winograd && !winograd_applies(g)) continue;
            INFO("x " << to_string(g.x) << " w " << to_string(g.w) << " stride " << g.sh << "," << g.sw << " pad "
                      << g.ph << "," << g.pw << " algorithm " << static_cast<int>(algo));
            const auto x = integers<float>(g.x, seed++), w = integers<float>(g.w, seed++);
            const auto b = integers<float>({g.w[0]}, seed++);
            const Conv2dParams p = params_of(g, algo);
            const Tensor<float> y = conv2d_fprop(x, w, b, p);
            ICHSEG_REQUIRE_EQUAL(y, naive::conv2d(x, w, b, naive_of(g)));
            const auto dy = integers<float>(y.shape(), seed++);
            ICHSEG_REQUIRE_EQUAL(conv2d_dgrad(dy, w, g.x, p), naive::conv2d_dx(dy, w, g.x, naive_of(g)));
            auto [dw, db] = conv2d_wgrad(dy, x, g.w, p, true);
            ICHSEG_REQUIRE_EQUAL(dw, naive::conv2d_dw(dy, x, g.w, naive_of(g)));
            ICHSEG_REQUIRE_EQUAL(db, naive::channel_sum(dy));
            // no bias: fprop without the bias term, wgrad leaves db undefined
            ICHSEG_REQUIRE_EQUAL(conv2d_fprop(x, w, Tensor<float>(), p), naive::conv2d(x, w, Tensor<float>(), naive_of(g)));
            CHECK_FALSE(conv2d_wgrad(dy, x, g.w, p, false).second.defined());
        }
    }
}

TEST_CASE("conv2d on images >= 32x32 (Winograd F(4x4,3x3) in float) matches the naive loops", "[ops][conv2d]") {
    // F(4x4, 3x3) transforms use the points 0, +-1, +-2, +-1/2 with factors 1/6, 1/12, 1/24 that float cannot
    // represent, so results are not exact even on integers. Inputs uniform in [-1, 1]: the transforms amplify
    // rounding (observed ~25 ulp of the tensor's scale for F(4x4), ~3 ulp for im2col); allowed 2e-5 of the
    // scale (~170 ulp), against an O(1) relative error for any wrong index or coefficient.
    for (const Geom& g : {Geom{{1, 8, 32, 33}, {8, 8, 3, 3}, 1, 1, 1, 1}, Geom{{2, 12, 35, 32}, {9, 12, 3, 3}, 1, 1, 1, 1}}) {
        INFO("x " << to_string(g.x) << " w " << to_string(g.w));
        const auto x = uniform<float>(g.x, 71), w = uniform<float>(g.w, 72), b = uniform<float>({g.w[0]}, 73);
        for (ConvAlgorithm algo : {ConvAlgorithm::Auto, ConvAlgorithm::Winograd, ConvAlgorithm::Im2colGemm}) {
            const Conv2dParams p = params_of(g, algo);
            const auto xd = x.cast<double>(), wd = w.cast<double>(), bd = b.cast<double>();
            const auto y = conv2d_fprop(x, w, b, p);
            const auto ey = naive::conv2d(xd, wd, bd, naive_of(g));
            ICHSEG_REQUIRE_CLOSE_SCALED(y, ey, 2e-5);
            const auto dy = uniform<float>(y.shape(), 74);
            const auto edx = naive::conv2d_dx(dy.cast<double>(), wd, g.x, naive_of(g));
            ICHSEG_REQUIRE_CLOSE_SCALED(conv2d_dgrad(dy, w, g.x, p), edx, 2e-5);
            auto [dw, db] = conv2d_wgrad(dy, x, g.w, p, true);
            const auto edw = naive::conv2d_dw(dy.cast<double>(), xd, g.w, naive_of(g));
            const auto edb = naive::channel_sum(dy.cast<double>());
            ICHSEG_REQUIRE_CLOSE_SCALED(dw, edw, 2e-5);
            ICHSEG_REQUIRE_CLOSE_SCALED(db, edb, 2e-5);
        }
    }
}

TEST_CASE("Winograd's blocked and shared schedules, with any chunking, match the naive loops", "[ops][conv2d]") {
    // The automatic choice runs the shared schedule only on wide layers with small images (the paper U-Net's
    // 512 channels at 16 x 16), so force each schedule here. Chunk sizes: 0 (automatic: the whole batch in one
    // chunk), 100 tiles (two 36-tile images per chunk, then a partial chunk of one image), 40 (one image per
    // chunk) and 10 (one tile row per chunk). F(2x2) on integers is exact (first test's reasoning); F(4x4)
    // gets the tolerance of the test above.
    namespace winograd = cpu::winograd;
    using winograd::Tuning;
    const RestoreWinogradTuning restore;
    const Geom f2{{3, 16, 12, 12}, {9, 16, 3, 3}, 1, 1, 1, 1}, f4{{3, 8, 32, 33}, {8, 8, 3, 3}, 1, 1, 1, 1};
    const Conv2dParams p = params_of(f2, ConvAlgorithm::Winograd);
    const auto x2 = integers<float>(f2.x, 81), w2 = integers<float>(f2.w, 82), b2 = integers<float>({f2.w[0]}, 83);
    const auto dy2 = integers<float>({f2.x[0], f2.w[0], f2.x[2], f2.x[3]}, 84);
    const auto x4 = uniform<float>(f4.x, 85), w4 = uniform<float>(f4.w, 86), b4 = uniform<float>({f4.w[0]}, 87);
    const auto dy4 = uniform<float>({f4.x[0], f4.w[0], f4.x[2], f4.x[3]}, 88);
    const auto x4d = x4.cast<double>(), w4d = w4.cast<double>(), dy4d = dy4.cast<double>();
    // On 1 and 3 threads: the shared schedule divides a chunk's GEMMs among the threads, the blocked one its
    // blocks, and blocked wgrad sums per-thread partials.
    for (int threads : {1, 3})
    for (auto schedule : {Tuning::Schedule::Blocked, Tuning::Schedule::Shared})
        for (int64_t chunk : {0, 100, 40, 10}) {
            if (schedule == Tuning::Schedule::Blocked && chunk != 0) continue;
            ScopedThreads scoped(threads);
            winograd::tuning() = Tuning{schedule, chunk};
            INFO("threads " << threads << " schedule " << static_cast<int>(schedule) << " chunk_tiles " << chunk);
            ICHSEG_REQUIRE_EQUAL(conv2d_fprop(x2, w2, b2, p), naive::conv2d(x2, w2, b2, naive_of(f2)));
            ICHSEG_REQUIRE_EQUAL(conv2d_dgrad(dy2, w2, f2.x, p), naive::conv2d_dx(dy2, w2, f2.x, naive_of(f2)));
            ICHSEG_REQUIRE_EQUAL(conv2d_wgrad(dy2, x2, f2.w, p, true).first,
                                 naive::conv2d_dw(dy2, x2, f2.w, naive_of(f2)));
            ICHSEG_REQUIRE_CLOSE_SCALED(conv2d_fprop(x4, w4, b4, p),
                                        naive::conv2d(x4d, w4d, b4.cast<double>(), naive_of(f4)), 2e-5);
            ICHSEG_REQUIRE_CLOSE_SCALED(conv2d_dgrad(dy4, w4, f4.x, p), naive::conv2d_dx(dy4d, w4d, f4.x, naive_of(f4)),
                                        2e-5);
            ICHSEG_REQUIRE_CLOSE_SCALED(conv2d_wgrad(dy4, x4, f4.w, p, true).first,
                                        naive::conv2d_dw(dy4d, x4d, f4.w, naive_of(f4)), 2e-5);
        }
}

TEST_CASE("Winograd on wide rows with odd widths matches the naive loops", "[ops][conv2d]") {
    // Rows many tiles wide, so the phase split's interior loop runs over more than 16 column groups next to its
    // edge loops: F(2x2) on 70-wide rows of 6-row images (F(4x4) needs both sides >= 32) and F(4x4) on 97-wide
    // rows (odd, so the last tile is partial). F(2x2) on integers is exact; F(4x4) gets the tolerance of the
    // schedules test above.
    const Geom f2{{2, 8, 6, 70}, {8, 8, 3, 3}, 1, 1, 1, 1}, f4{{1, 8, 33, 97}, {9, 8, 3, 3}, 1, 1, 1, 1};
    const Conv2dParams p = params_of(f2, ConvAlgorithm::Winograd);
    const auto x2 = integers<float>(f2.x, 91), w2 = integers<float>(f2.w, 92), b2 = integers<float>({f2.w[0]}, 93);
    const auto dy2 = integers<float>({f2.x[0], f2.w[0], f2.x[2], f2.x[3]}, 94);
    ICHSEG_REQUIRE_EQUAL(conv2d_fprop(x2, w2, b2, p), naive::conv2d(x2, w2, b2, naive_of(f2)));
    ICHSEG_REQUIRE_EQUAL(conv2d_dgrad(dy2, w2, f2.x, p), naive::conv2d_dx(dy2, w2, f2.x, naive_of(f2)));
    ICHSEG_REQUIRE_EQUAL(conv2d_wgrad(dy2, x2, f2.w, p, true).first, naive::conv2d_dw(dy2, x2, f2.w, naive_of(f2)));
    const auto x4 = uniform<float>(f4.x, 95), w4 = uniform<float>(f4.w, 96), b4 = uniform<float>({f4.w[0]}, 97);
    const auto dy4 = uniform<float>({f4.x[0], f4.w[0], f4.x[2], f4.x[3]}, 98);
    const auto x4d = x4.cast<double>(), w4d = w4.cast<double>(), dy4d = dy4.cast<double>();
    ICHSEG_REQUIRE_CLOSE_SCALED(conv2d_fprop(x4, w4, b4, p), naive::conv2d(x4d, w4d, b4.cast<double>(), naive_of(f4)),
                                2e-5);
    ICHSEG_REQUIRE_CLOSE_SCALED(conv2d_dgrad(dy4, w4, f4.x, p), naive::conv2d_dx(dy4d, w4d, f4.x, naive_of(f4)),
                                2e-5);
    ICHSEG_REQUIRE_CLOSE_SCALED(conv2d_wgrad(dy4, x4, f4.w, p, true).first,
                                naive::conv2d_dw(dy4d, x4d, f4.w, naive_of(f4)), 2e-5);
}

TEST_CASE("Winograd on narrow rows (1, 2 and 4 tiles wide) matches the naive loops", "[ops][conv2d]") {
    // F(2x2) rows of 1, 2 or 4 tiles fill a vector of eight tiles with 8, 4 or 2 tile rows, across images in the
    // shared schedule (conv2d_winograd.hpp, rows_per_vector). Widths 2, 3, 4, 7 and 8 give 1, 2, 2, 4 and 4
    // tiles (3 and 7: the last tile partial); heights and batch sizes make the number of tile rows (over all
    // images) a multiple of the rows per vector and not, so the scalar path finishes incomplete vectors. Both
    // schedules, chunk sizes that split the batch and single images, 1 and 3 threads. Integers: exact (first
    // test's reasoning).
    namespace winograd = cpu::winograd;
    using winograd::Tuning;
    const RestoreWinogradTuning restore;
    const std::vector<Geom> geoms = {
        {{3, 8, 8, 8}, {8, 8, 3, 3}, 1, 1, 1, 1}, {{3, 8, 6, 7}, {9, 8, 3, 3}, 1, 1, 1, 1},
        {{2, 9, 4, 4}, {8, 9, 3, 3}, 1, 1, 1, 1}, {{3, 8, 5, 3}, {8, 8, 3, 3}, 1, 1, 1, 1},
        {{3, 8, 5, 2}, {8, 8, 3, 3}, 1, 1, 1, 1}, {{5, 8, 16, 2}, {10, 8, 3, 3}, 1, 1, 1, 1},
    };
    uint64_t seed = 300;
    for (const Geom& g : geoms) {
        const Conv2dParams p = params_of(g, ConvAlgorithm::Winograd);
        const auto x = integers<float>(g.x, seed++), w = integers<float>(g.w, seed++);
        const auto b = integers<float>({g.w[0]}, seed++);
        const auto dy = integers<float>({g.x[0], g.w[0], g.x[2], g.x[3]}, seed++);
        const auto ey = naive::conv2d(x, w, b, naive_of(g)), edx = naive::conv2d_dx(dy, w, g.x, naive_of(g));
        const auto edw = naive::conv2d_dw(dy, x, g.w, naive_of(g));
        for (int threads : {1, 3})
            for (auto schedule : {Tuning::Schedule::Blocked, Tuning::Schedule::Shared})
                for (int64_t chunk : {0, 9, 3}) {
                    if (schedule == Tuning::Schedule::Blocked && chunk != 0) continue;
                    ScopedThreads scoped(threads);
                    winograd::tuning() = Tuning{schedule, chunk};
                    INFO("x " << to_string(g.x) << " threads " << threads << " schedule "
                              << static_cast<int>(schedule) << " chunk_tiles " << chunk);
                    ICHSEG_REQUIRE_EQUAL(conv2d_fprop(x, w, b, p), ey);
                    ICHSEG_REQUIRE_EQUAL(conv2d_dgrad(dy, w, g.x, p), edx);
                    ICHSEG_REQUIRE_EQUAL(conv2d_wgrad(dy, x, g.w, p, true).first, edw);
                }
    }
}

TEST_CASE("conv2d through autograd gives the naive gradients for x, w and b", "[ops][conv2d]") {
    for (const Geom& g : {kGeoms[0], kGeoms[2], kGeoms[7]}) {
        const auto x = integers<float>(g.x, 21), w = integers<float>(g.w, 22), b = integers<float>({g.w[0]}, 23);
        Var<float> xv(x, true), wv(w, true), bv(b, true);
        Var<float> y = conv2d(xv, wv, bv, params_of(g));
        const auto dy = integers<float>(y.shape(), 24);
        y.backward(dy);
        ICHSEG_REQUIRE_EQUAL(y.value(), naive::conv2d(x, w, b, naive_of(g)));
        ICHSEG_REQUIRE_EQUAL(xv.grad(), naive::conv2d_dx(dy, w, g.x, naive_of(g)));
        ICHSEG_REQUIRE_EQUAL(wv.grad(), naive::conv2d_dw(dy, x, g.w, naive_of(g)));
        ICHSEG_REQUIRE_EQUAL(bv.grad(), naive::channel_sum(dy));
    }
}

TEST_CASE("conv2d im2col + GEMM on several threads equals the naive loops", "[ops][conv2d]") {
    // Large enough to be split over threads (row blocks per image; wgrad sums per-thread partials), stride 1 and
    // stride 2 (whose dgrad scatters with col2im). Exact on integers, as above.
    for (const Geom& g : {Geom{{3, 6, 20, 18}, {5, 6, 3, 3}, 1, 1, 1, 1}, Geom{{3, 6, 21, 19}, {5, 6, 3, 3}, 2, 2, 1, 1}})
        for (int threads : {1, 3}) {
            ScopedThreads scoped(threads);
            INFO("threads " << threads << " x " << to_string(g.x) << " stride " << g.sh);
            const Conv2dParams p = params_of(g, ConvAlgorithm::Im2colGemm);
            const auto x = integers<float>(g.x, 91), w = integers<float>(g.w, 92), b = integers<float>({g.w[0]}, 93);
            const Tensor<float> y = conv2d_fprop(x, w, b, p);
            ICHSEG_REQUIRE_EQUAL(y, naive::conv2d(x, w, b, naive_of(g)));
            const auto dy = integers<float>(y.shape(), 94);
            ICHSEG_REQUIRE_EQUAL(conv2d_dgrad(dy, w, g.x, p), naive::conv2d_dx(dy, w, g.x, naive_of(g)));
            auto [dw, db] = conv2d_wgrad(dy, x, g.w, p, true);
            ICHSEG_REQUIRE_EQUAL(dw, naive::conv2d_dw(dy, x, g.w, naive_of(g)));
            ICHSEG_REQUIRE_EQUAL(db, naive::channel_sum(dy));
        }
}

TEST_CASE("conv2d of a single-channel input (the U-Net's first layer) equals the naive loops", "[ops][conv2d]") {
    // Auto runs 3x3 stride-1 pad-1 convolutions of one input channel with cpu::single_channel (forward and weight
    // gradient). Widths with and without a tail after the eight-pixel vectors, a 1-pixel image, an image tall
    // enough for two row blocks, and 1 and 3 threads. Exact on integers.
    for (const Shape& xs : {Shape{2, 1, 6, 5}, Shape{3, 1, 7, 16}, Shape{2, 1, 5, 19}, Shape{1, 1, 1, 1},
                            Shape{2, 1, 830, 9}})
        for (int threads : {1, 3}) {
            ScopedThreads scoped(threads);
            const Geom g{xs, {5, 1, 3, 3}, 1, 1, 1, 1};
            INFO("threads " << threads << " x " << to_string(xs));
            REQUIRE(cpu::single_channel::applicable(conv2d_geometry<float>("test", g.x, g.w, params_of(g))));
            const auto x = integers<float>(g.x, 95), w = integers<float>(g.w, 96), b = integers<float>({g.w[0]}, 97);
            const Tensor<float> y = conv2d_fprop(x, w, b, params_of(g));
            ICHSEG_REQUIRE_EQUAL(y, naive::conv2d(x, w, b, naive_of(g)));
            ICHSEG_REQUIRE_EQUAL(conv2d_fprop(x, w, Tensor<float>(), params_of(g)),
                                 naive::conv2d(x, w, Tensor<float>(), naive_of(g)));
            const auto dy = integers<float>(y.shape(), 98);
            auto [dw, db] = conv2d_wgrad(dy, x, g.w, params_of(g), true);
            ICHSEG_REQUIRE_EQUAL(dw, naive::conv2d_dw(dy, x, g.w, naive_of(g)));
            ICHSEG_REQUIRE_EQUAL(db, naive::channel_sum(dy));
        }
}

TEST_CASE("conv2d without bias and with only some inputs requiring gradients", "[ops][conv2d]") {
    const Geom g = kGeoms[0];
    const auto x = integers<float>(g.x, 31), w = integers<float>(g.w, 32);
    Var<float> xv(x, false), wv(w, true);
    Var<float> y = conv2d(xv, wv, Var<float>(), params_of(g));
    const auto dy = integers<float>(y.shape(), 33);
    y.backward(dy);
    CHECK_FALSE(xv.grad().defined());
    ICHSEG_REQUIRE_EQUAL(wv.grad(), naive::conv2d_dw(dy, x, g.w, naive_of(g)));
}

TEST_CASE("conv2d finite-difference gradient check in double", "[ops][conv2d][gradcheck]") {
    // Convolution is bilinear, so central differences are exact up to rounding (no kinks to avoid).
    for (const Geom& g : {kGeoms[0], kGeoms[1], kGeoms[2], kGeoms[3], kGeoms[4]}) {
        INFO("x " << to_string(g.x) << " w " << to_string(g.w));
        const Conv2dParams p = params_of(g);
        gradcheck([&](const std::vector<Var<double>>& v) { return conv2d(v[0], v[1], v[2], p); },
                  {uniform<double>(g.x, 41), uniform<double>(g.w, 42), uniform<double>({g.w[0]}, 43)});
    }
}

TEST_CASE("conv2d matches PyTorch golden values", "[ops][conv2d][golden]") {
    for (const std::string c : {"k3p1", "k1", "s2k3p1odd", "rect", "wide"}) {
        INFO("case " << c);
        const std::string f = "ops_conv2d";
        const auto st = gold<int64_t>(f, c + ".stride"), pd = gold<int64_t>(f, c + ".padding");
        const Conv2dParams p{st(0), st(1), pd(0), pd(1)};
        // float32: the inputs are the float32 values PyTorch used and the expected values are exact (float64),
        // so the difference is ichseg's own rounding of sums of <= 126 O(1) products: 16 ulp of the tensor's
        // scale (2e-6) is ~1.4 * sqrt(126) ulp and about 10x the largest error observed (1.5 ulp, Winograd
        // included). float64: the same sums in double, 1e-12 of the scale.
        auto run = [&](auto zero, double rel) {
            using T = decltype(zero);
            Var<T> x(gold<T>(f, c + ".x"), true), w(gold<T>(f, c + ".w"), true), b(gold<T>(f, c + ".b"), true);
            Var<T> y = conv2d(x, w, b, p);
            y.backward(gold<T>(f, c + ".gy"));
            const auto ey = gold<double>(f, c + ".y"), edx = gold<double>(f, c + ".dx");
            const auto edw = gold<double>(f, c + ".dw"), edb = gold<double>(f, c + ".db");
            REQUIRE(y.shape() == ey.shape());
            ICHSEG_REQUIRE_CLOSE_SCALED(y.value(), ey, rel);
            ICHSEG_REQUIRE_CLOSE_SCALED(x.grad(), edx, rel);
            ICHSEG_REQUIRE_CLOSE_SCALED(w.grad(), edw, rel);
            ICHSEG_REQUIRE_CLOSE_SCALED(b.grad(), edb, rel);
        };
        run(0.0f, 16 * kEpsF);
        run(0.0, 1e-12);
    }
}

TEST_CASE("conv2d identity: dgrad is the adjoint of fprop for every geometry", "[ops][conv2d]") {
    // <conv(x), dy> == <x, dgrad(dy)> for any x, dy (the defining property of the transpose); exact on integers.
    for (const Geom& g : kGeoms) {
        const auto x = integers<float>(g.x, 51), w = integers<float>(g.w, 52);
        const Conv2dParams p = params_of(g);
        const auto y = conv2d_fprop(x, w, Tensor<float>(), p);
        const auto dy = integers<float>(y.shape(), 53);
        const auto dx = conv2d_dgrad(dy, w, g.x, p);
        double a = 0, b = 0;
        for (int64_t i = 0; i < y.numel(); ++i) a += static_cast<double>(y.data()[i]) * dy.data()[i];
        for (int64_t i = 0; i < x.numel(); ++i) b += static_cast<double>(x.data()[i]) * dx.data()[i];
        CHECK(a == b);
    }
}

TEST_CASE("conv2d results do not depend on input strides (non-contiguous inputs are copied)", "[ops][conv2d]") {
    const auto big = integers<float>({2, 6, 6, 5}, 61), w = integers<float>({4, 3, 3, 3}, 62);
    const Tensor<float> x = big.narrow(1, 2, 3);  // channels 2..4: a non-contiguous view
    REQUIRE_FALSE(x.is_contiguous());
    ICHSEG_REQUIRE_EQUAL(conv2d_fprop(x, w, Tensor<float>(), Conv2dParams::same(3)),
                         naive::conv2d(x.contiguous(), w, Tensor<float>(), {1, 1, 1, 1}));
}

TEST_CASE("conv2d rejects mismatched shapes with the op name and both shapes", "[ops][conv2d][bad_input]") {
    const auto x = uniform<float>({2, 3, 6, 5}, 1);
    const auto w = uniform<float>({4, 2, 3, 3}, 2);
    ICHSEG_REQUIRE_ERROR(conv2d_fprop(x, w, Tensor<float>(), Conv2dParams::same(3)),
                         {"conv2d", "[2, 3, 6, 5]", "[4, 2, 3, 3]"});
    const auto w3 = uniform<float>({4, 3, 3}, 3);
    ICHSEG_REQUIRE_ERROR(conv2d_fprop(x, w3, Tensor<float>(), Conv2dParams{}), {"conv2d", "weight", "[4, 3, 3]"});
    const auto x3 = uniform<float>({3, 6, 5}, 4);
    ICHSEG_REQUIRE_ERROR(conv2d_fprop(x3, uniform<float>({4, 3, 3, 3}, 5), Tensor<float>(), Conv2dParams{}),
                         {"conv2d", "input", "[3, 6, 5]"});
    const auto wk = uniform<float>({4, 3, 3, 3}, 6);
    ICHSEG_REQUIRE_ERROR(conv2d_fprop(x, wk, uniform<float>({5}, 7), Conv2dParams{}), {"conv2d", "bias", "[5]"});
    ICHSEG_REQUIRE_ERROR(conv2d_fprop(uniform<float>({1, 3, 2, 2}, 8), wk, Tensor<float>(), Conv2dParams{}),
                         {"conv2d", "[1, 3, 2, 2]", "[4, 3, 3, 3]"});
    ICHSEG_REQUIRE_ERROR(conv2d_fprop(x, wk, Tensor<float>(), Conv2dParams{0, 1, 0, 0}), {"conv2d", "stride"});
    // Winograd forced where it does not apply
    ICHSEG_REQUIRE_ERROR(conv2d_fprop(x, uniform<float>({4, 3, 1, 1}, 10), Tensor<float>(),
                                      Conv2dParams{1, 1, 0, 0, ConvAlgorithm::Winograd}),
                         {"conv2d", "Winograd"});
    // backward entry points check dy against the forward geometry
    ICHSEG_REQUIRE_ERROR(conv2d_dgrad(uniform<float>({2, 4, 5, 5}, 9), wk, x.shape(), Conv2dParams::same(3)),
                         {"conv2d_dgrad", "[2, 4, 5, 5]", "[2, 4, 6, 5]"});
    ICHSEG_REQUIRE_ERROR(conv2d_wgrad(uniform<float>({2, 4, 5, 5}, 9), x, wk.shape(), Conv2dParams::same(3), true),
                         {"conv2d_wgrad", "[2, 4, 5, 5]", "[2, 4, 6, 5]"});
    // the differentiable op reports the same
    Var<float> xv(x, true), wv(w, true);
    ICHSEG_REQUIRE_ERROR(conv2d(xv, wv, Var<float>(), Conv2dParams::same(3)), {"conv2d", "[2, 3, 6, 5]", "[4, 2, 3, 3]"});
}

}  // namespace test_conv2d
