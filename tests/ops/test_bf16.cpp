/// @file test_bf16.cpp
/// @brief The BF16 paths of the CPU ops (Precision::BF16: operands rounded to bfloat16, products accumulated in
/// FP32): conv2d 3x3 (fprop, dgrad, wgrad; cpu/conv2d_bf16.hpp), conv_transpose2d 2x2 stride 2 (all three roles;
/// cpu/conv_transpose2d_bf16.hpp) and the BF16 GEMM (cpu/gemm_bf16.hpp), with both product kernels where the CPU
/// has them (AMX tiles and AVX512_BF16), on 1 and 3 threads; the precision recorded by the tape; the fallback.
///
/// Tolerances, for one output y = sum_i a_i b_i of a reduction of length n (9 C for fprop, 9 K for dgrad, N H W
/// for wgrad, Cin or 4 Cout or N H W for the transposed convolution), with S = sum_i |a_i b_i|:
///  - against the exact products of the BF16-rounded operands (double): FP32 accumulation only,
///    |y - y_exact(rounded)| <= gamma_n S, gamma_n = (n + 2) 2^-24. This pins the kernels (a wrong index or a
///    lost product is O(S));
///  - against the FP32 operands (double): BF16 keeps 8 significant bits (7 stored), unit roundoff u = 2^-8, so
///    each product carries a relative error <= 2u + u^2 and |y - y_exact| <= (2u + u^2 + gamma_n) S. This is the
///    accuracy a caller of the BF16 path gets (observed: about half of it in the worst element).
/// S is computed exactly as the same reference operation on |a| and |b|.
/// Where the build has no BF16 product instructions (e.g. -march=x86-64-v3), the BF16 request must give the FP32
/// result bit for bit; the BF16-kernel cases then check exactly that (they are not skipped as passed).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "ichseg/cpu/bf16.hpp"
#include "ichseg/cpu/gemm_bf16.hpp"
#include "ichseg/ops/conv2d.hpp"
#include "ichseg/ops/conv_transpose2d.hpp"
#include "support/errors.hpp"
#include "support/threads.hpp"

using namespace ichseg;

namespace test_bf16 {

namespace {
constexpr double kU = 1.0 / 256;         // BF16 unit roundoff, 2^-8 (8 significant bits)
constexpr double kEps32 = 1.0 / 16777216;  // FP32 unit roundoff, 2^-24

double round_bf16(float v) { return static_cast<float>(bfloat16(v)); }

Tensor<float> filled(const Shape& s, uint64_t stream, float lo, float hi) {
    Tensor<float> t = Tensor<float>::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = lo + (hi - lo) * random_uniform(77, stream, static_cast<uint64_t>(i));
    return t;
}
/// The tensor in double: as is, BF16-rounded, or the absolute value of either.
Tensor<double> as_double(const Tensor<float>& t, bool rounded, bool absolute) {
    Tensor<double> d = Tensor<double>::empty(t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) {
        const double v = rounded ? round_bf16(t.data()[i]) : t.data()[i];
        d.data()[i] = absolute ? std::abs(v) : v;
    }
    return d;
}

/// Checks actual against the two bounds of the file comment: `exact_r` from the rounded operands, `exact` from the
/// FP32 ones, `mag` = S per element, n the reduction length.
void check_bounds(const Tensor<float>& actual, const Tensor<double>& exact_r, const Tensor<double>& exact,
                  const Tensor<double>& mag, int64_t n, const std::string& what) {
    REQUIRE(actual.shape() == exact.shape());
    const double gamma = (n + 2) * kEps32;
    double worst_r = 0, worst = 0;  // as fractions of the allowed bound
    for (int64_t i = 0; i < actual.numel(); ++i) {
        const double a = actual.data()[i], s = mag.data()[i];
        worst_r = std::max(worst_r, std::abs(a - exact_r.data()[i]) / (gamma * s + 1e-300));
        worst = std::max(worst, std::abs(a - exact.data()[i]) / ((2 * kU + kU * kU + gamma) * s + 1e-300));
    }
    INFO(what << ": error / bound = " << worst_r << " (vs the rounded operands), " << worst << " (vs FP32 operands)");
    CHECK(worst_r <= 1.0);
    CHECK(worst <= 1.0);
}

/// Runs f() with each available BF16 product kernel forced in turn (AMX where present, then AVX512_BF16).
template <class F>
void for_each_kernel(F&& f) {
    const bool amx = cpu::bf16_kernel() == cpu::Bf16Kernel::Amx;
    if (amx) {
        INFO("kernel " << cpu::bf16_kernel_name(cpu::bf16_kernel()));
        f();
    }
    cpu::force_bf16_avx512(true);
    {
        INFO("kernel " << cpu::bf16_kernel_name(cpu::bf16_kernel()));
        f();
    }
    cpu::force_bf16_avx512(false);
}

struct ConvCase {
    int64_t N, C, K, H, W;
};
const ConvCase kConvCases[] = {{2, 32, 32, 16, 16}, {1, 8, 8, 8, 8},   {2, 3, 5, 7, 9},   {1, 64, 48, 32, 32},
                               {2, 16, 16, 4, 4},   {1, 40, 24, 20, 12}, {1, 2, 17, 5, 3}};

/// Forces the direct BF16 convolution for every 3x3 geometry (Auto would keep some layers in FP32).
struct ForceBf16Conv {
    ForceBf16Conv() { cpu::conv_bf16::bf16_conv_mode() = cpu::conv_bf16::Bf16ConvMode::Always; }
    ~ForceBf16Conv() { cpu::conv_bf16::bf16_conv_mode() = cpu::conv_bf16::Bf16ConvMode::Auto; }
};
}  // namespace

TEST_CASE("BF16 conv2d 3x3: fprop, dgrad and wgrad within the BF16 bounds", "[ops][conv2d][bf16]") {
    const Conv2dParams p = Conv2dParams::same(3);
    const ForceBf16Conv force;
    for (const ConvCase& c : kConvCases) {
        INFO("N " << c.N << " C " << c.C << " K " << c.K << " " << c.H << "x" << c.W);
        const Tensor<float> x = filled({c.N, c.C, c.H, c.W}, 1, -1.f, 1.f), w = filled({c.K, c.C, 3, 3}, 2, -0.5f, 0.5f);
        const Tensor<float> b = filled({c.K}, 3, -1.f, 1.f), dy = filled({c.N, c.K, c.H, c.W}, 4, -1.f, 1.f);
        if (!cpu::bf16_available()) {
            // The fallback: BF16 asked, FP32 computed, bit for bit.
            Tensor<float> y32 = conv2d_fprop(x, w, b, p), dx32 = conv2d_dgrad(dy, w, x.shape(), p);
            auto [dw32, db32] = conv2d_wgrad(dy, x, w.shape(), p, true);
            const PrecisionGuard bf16(Precision::BF16);
            CHECK(conv2d_fprop(x, w, b, p).to_vector() == y32.to_vector());
            CHECK(conv2d_dgrad(dy, w, x.shape(), p).to_vector() == dx32.to_vector());
            CHECK(conv2d_wgrad(dy, x, w.shape(), p, true).first.to_vector() == dw32.to_vector());
            continue;
        }
        // References in double (im2col + GEMM, checked against the naive loops in test_conv2d.cpp).
        const Conv2dGeometry g = conv2d_geometry<double>("test", x.shape(), w.shape(), p);
        auto fprop = [&](const Tensor<double>& xd, const Tensor<double>& wd, const Tensor<double>& bd) {
            Tensor<double> y = Tensor<double>::empty({c.N, c.K, c.H, c.W});
            cpu::conv2d_fprop<double>(g, xd.data(), wd.data(), bd.defined() ? bd.data() : nullptr, y.data());
            return y;
        };
        auto dgrad = [&](const Tensor<double>& dyd, const Tensor<double>& wd) {
            Tensor<double> dx = Tensor<double>::empty(x.shape());
            cpu::conv2d_dgrad<double>(g, dyd.data(), wd.data(), dx.data());
            return dx;
        };
        auto wgrad = [&](const Tensor<double>& dyd, const Tensor<double>& xd) {
            Tensor<double> dw = Tensor<double>::empty(w.shape());
            cpu::conv2d_wgrad<double>(g, dyd.data(), xd.data(), dw.data(), nullptr);
            return dw;
        };
        const Tensor<double> bd = as_double(b, false, false), bz = Tensor<double>::zeros({c.K});
        const auto xr = as_double(x, true, false), wr = as_double(w, true, false), dyr = as_double(dy, true, false);
        const auto xa = as_double(x, true, true), wa = as_double(w, true, true), dya = as_double(dy, true, true);
        const auto x0 = as_double(x, false, false), w0 = as_double(w, false, false), dy0 = as_double(dy, false, false);
        // The bias is added in FP32 outside the products: |b| joins the magnitude.
        Tensor<double> y_mag = fprop(xa, wa, bz);
        for (int64_t i = 0; i < y_mag.numel(); ++i) y_mag.data()[i] += std::abs(bd.data()[(i / (c.H * c.W)) % c.K]);
        const auto y_r = fprop(xr, wr, bd), y_0 = fprop(x0, w0, bd);
        const auto dx_r = dgrad(dyr, wr), dx_0 = dgrad(dy0, w0), dx_mag = dgrad(dya, wa);
        const auto dw_r = wgrad(dyr, xr), dw_0 = wgrad(dy0, x0), dw_mag = wgrad(dya, xa);
        for (int threads : {1, 3}) {
            const test::ScopedThreads t(threads);
            INFO(threads << " thread(s)");
            for_each_kernel([&] {
                const PrecisionGuard bf16(Precision::BF16);
                check_bounds(conv2d_fprop(x, w, b, p), y_r, y_0, y_mag, 9 * c.C, "fprop");
                check_bounds(conv2d_dgrad(dy, w, x.shape(), p), dx_r, dx_0, dx_mag, 9 * c.K, "dgrad");
                auto [dw, db] = conv2d_wgrad(dy, x, w.shape(), p, true);
                check_bounds(dw, dw_r, dw_0, dw_mag, c.N * c.H * c.W, "wgrad");
                // db: an FP32 sum of dy (not a BF16 product), as in the FP32 path
                for (int64_t k = 0; k < c.K; ++k) {
                    double s = 0, sa = 0;
                    for (int64_t n = 0; n < c.N; ++n)
                        for (int64_t i = 0; i < c.H * c.W; ++i) {
                            s += dy.data()[(n * c.K + k) * c.H * c.W + i];
                            sa += std::abs(dy.data()[(n * c.K + k) * c.H * c.W + i]);
                        }
                    CHECK(std::abs(db.data()[k] - s) <= (c.N * c.H * c.W + 2) * kEps32 * sa);
                }
            });
        }
    }
}

TEST_CASE("BF16 conv2d: Auto keeps FP32 where BF16 does not pay, and forced algorithms stay FP32", "[ops][conv2d][bf16]") {
    const Tensor<float> x1 = filled({2, 1, 16, 16}, 5, -1.f, 1.f), w1 = filled({8, 1, 3, 3}, 6, -1.f, 1.f);
    const Tensor<float> x = filled({2, 16, 16, 16}, 7, -1.f, 1.f), w = filled({16, 16, 3, 3}, 8, -1.f, 1.f);
    Conv2dParams p = Conv2dParams::same(3);
    const Tensor<float> y1_32 = conv2d_fprop(x1, w1, Tensor<float>(), p);
    p.algorithm = ConvAlgorithm::Winograd;
    const Tensor<float> yw_32 = conv2d_fprop(x, w, Tensor<float>(), p);
    const PrecisionGuard bf16(Precision::BF16);
    // the single-channel input layer keeps its FP32 loops
    CHECK(conv2d_fprop(x1, w1, Tensor<float>(), Conv2dParams::same(3)).to_vector() == y1_32.to_vector());
    // an explicitly requested algorithm runs as asked, in FP32
    CHECK(conv2d_fprop(x, w, Tensor<float>(), p).to_vector() == yw_32.to_vector());
    // with VDPBF16PS alone (no AMX), Auto keeps FP32 Winograd (faster and more accurate: docs/ops.md §8)
    cpu::force_bf16_avx512(true);
    p.algorithm = ConvAlgorithm::Auto;
    CHECK(conv2d_fprop(x, w, Tensor<float>(), p).to_vector() == [&] {
        const PrecisionGuard fp32(Precision::FP32);
        return conv2d_fprop(x, w, Tensor<float>(), p).to_vector();
    }());
    cpu::force_bf16_avx512(false);
}

TEST_CASE("BF16 conv_transpose2d 2x2 stride 2: all three roles within the BF16 bounds", "[ops][conv_transpose2d][bf16]") {
    const ConvTranspose2dParams p{2, 2, 0, 0, 0, 0};
    struct Case {
        int64_t N, Cin, Cout, H, W;
    };
    for (const Case c : {Case{2, 16, 8, 8, 8}, Case{1, 64, 32, 5, 7}, Case{3, 8, 4, 16, 16}, Case{1, 3, 2, 2, 3}}) {
        INFO("N " << c.N << " Cin " << c.Cin << " Cout " << c.Cout << " " << c.H << "x" << c.W);
        const Tensor<float> x = filled({c.N, c.Cin, c.H, c.W}, 11, -1.f, 1.f);
        const Tensor<float> w = filled({c.Cin, c.Cout, 2, 2}, 12, -0.5f, 0.5f);
        const Tensor<float> dy = filled({c.N, c.Cout, 2 * c.H, 2 * c.W}, 13, -1.f, 1.f);
        if (!cpu::bf16_available()) {
            const Tensor<float> y32 = conv_transpose2d_fprop(x, w, Tensor<float>(), p);
            const Tensor<float> dx32 = conv_transpose2d_dgrad(dy, w, p);
            const Tensor<float> dw32 = conv_transpose2d_wgrad(dy, x, w.shape(), p, false).first;
            const PrecisionGuard bf16(Precision::BF16);
            CHECK(conv_transpose2d_fprop(x, w, Tensor<float>(), p).to_vector() == y32.to_vector());
            CHECK(conv_transpose2d_dgrad(dy, w, p).to_vector() == dx32.to_vector());
            CHECK(conv_transpose2d_wgrad(dy, x, w.shape(), p, false).first.to_vector() == dw32.to_vector());
            continue;
        }
        const cpu::convt2x2::Geometry g{c.N, c.Cin, c.Cout, c.H, c.W};
        auto fprop = [&](const Tensor<double>& xd, const Tensor<double>& wd) {
            Tensor<double> y = Tensor<double>::empty({c.N, c.Cout, 2 * c.H, 2 * c.W});
            cpu::convt2x2::fprop<double>(g, xd.data(), wd.data(), nullptr, y.data());
            return y;
        };
        auto dgrad = [&](const Tensor<double>& dyd, const Tensor<double>& wd) {
            Tensor<double> dx = Tensor<double>::empty(x.shape());
            cpu::convt2x2::dgrad<double>(g, dyd.data(), wd.data(), dx.data());
            return dx;
        };
        auto wgrad = [&](const Tensor<double>& dyd, const Tensor<double>& xd) {
            Tensor<double> dw = Tensor<double>::empty(w.shape());
            cpu::convt2x2::wgrad<double>(g, dyd.data(), xd.data(), dw.data());
            return dw;
        };
        const auto xr = as_double(x, true, false), wr = as_double(w, true, false), dyr = as_double(dy, true, false);
        const auto xa = as_double(x, true, true), wa = as_double(w, true, true), dya = as_double(dy, true, true);
        const auto x0 = as_double(x, false, false), w0 = as_double(w, false, false), dy0 = as_double(dy, false, false);
        const auto y_r = fprop(xr, wr), y_0 = fprop(x0, w0), y_mag = fprop(xa, wa);
        const auto dx_r = dgrad(dyr, wr), dx_0 = dgrad(dy0, w0), dx_mag = dgrad(dya, wa);
        const auto dw_r = wgrad(dyr, xr), dw_0 = wgrad(dy0, x0), dw_mag = wgrad(dya, xa);
        for (int threads : {1, 3}) {
            const test::ScopedThreads t(threads);
            INFO(threads << " thread(s)");
            for_each_kernel([&] {
                const PrecisionGuard bf16(Precision::BF16);
                check_bounds(conv_transpose2d_fprop(x, w, Tensor<float>(), p), y_r, y_0, y_mag, c.Cin, "fprop");
                check_bounds(conv_transpose2d_dgrad(dy, w, p), dx_r, dx_0, dx_mag, 4 * c.Cout, "dgrad");
                check_bounds(conv_transpose2d_wgrad(dy, x, w.shape(), p, false).first, dw_r, dw_0, dw_mag,
                             c.N * c.H * c.W, "wgrad");
            });
        }
    }
}

#if ICHSEG_CPU_BF16
TEST_CASE("BF16 GEMM: every transpose combination, odd sizes, beta 0 and 1", "[ops][bf16][gemm]") {
    struct Size {
        int64_t M, N, K;
    };
    for (const Size s : {Size{1, 1, 1}, Size{16, 16, 32}, Size{37, 45, 71}, Size{5, 300, 24}, Size{130, 17, 3}})
        for (bool ta : {false, true})
            for (bool tb : {false, true})
                for (float beta : {0.f, 1.f}) {
                    INFO("M " << s.M << " N " << s.N << " K " << s.K << " trans " << ta << tb << " beta " << beta);
                    const int64_t lda = (ta ? s.M : s.K) + 3, ldb = (tb ? s.K : s.N) + 5, ldc = s.N + 2;
                    const Tensor<float> A = filled({(ta ? s.K : s.M) * lda}, 21, -1.f, 1.f);
                    const Tensor<float> B = filled({(tb ? s.N : s.K) * ldb}, 22, -1.f, 1.f);
                    const Tensor<float> C0 = filled({s.M * ldc}, 23, -1.f, 1.f);
                    for_each_kernel([&] {
                        Tensor<float> C = C0.clone();
                        cpu::gemm_bf16(ta, tb, s.M, s.N, s.K, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
                        for (int64_t i = 0; i < s.M; ++i)
                            for (int64_t j = 0; j < ldc; ++j) {
                                if (j >= s.N) {  // the padding columns of C are never written
                                    REQUIRE(C.data()[i * ldc + j] == C0.data()[i * ldc + j]);
                                    continue;
                                }
                                double r = beta != 0 ? C0.data()[i * ldc + j] : 0.0, mag = std::abs(r);
                                for (int64_t k = 0; k < s.K; ++k) {
                                    const double a = round_bf16(ta ? A.data()[k * lda + i] : A.data()[i * lda + k]);
                                    const double b = round_bf16(tb ? B.data()[j * ldb + k] : B.data()[k * ldb + j]);
                                    r += a * b;
                                    mag += std::abs(a * b);
                                }
                                REQUIRE(std::abs(C.data()[i * ldc + j] - r) <= (s.K + 3) * kEps32 * mag);
                            }
                    });
                }
}
#endif

TEST_CASE("the tape runs backward in the precision its ops were recorded in", "[ops][bf16][autograd]") {
    const Conv2dParams p = Conv2dParams::same(3);
    const ForceBf16Conv force;
    const Tensor<float> xv = filled({2, 8, 8, 8}, 31, -1.f, 1.f), wv = filled({8, 8, 3, 3}, 32, -1.f, 1.f);
    const Tensor<float> gy = filled({2, 8, 8, 8}, 33, -1.f, 1.f);
    Var<float> x(xv, true), w(wv, true);
    Var<float> y;
    {
        const PrecisionGuard bf16(Precision::BF16);
        y = conv2d(x, w, Var<float>(), p);
    }
    CHECK(precision() == Precision::FP32);
    y.backward(gy);  // outside the guard: the recorded BF16 applies
    CHECK(precision() == Precision::FP32);
    Tensor<float> dx_bf16, dw_bf16;
    {
        const PrecisionGuard bf16(Precision::BF16);
        dx_bf16 = conv2d_dgrad(gy, wv, xv.shape(), p);
        dw_bf16 = conv2d_wgrad(gy, xv, wv.shape(), p, false).first;
    }
    CHECK(x.grad().to_vector() == dx_bf16.to_vector());
    CHECK(w.grad().to_vector() == dw_bf16.to_vector());
    if (cpu::bf16_available())  // and BF16 really is not FP32 here
        CHECK(dx_bf16.to_vector() != conv2d_dgrad(gy, wv, xv.shape(), p).to_vector());
}

TEST_CASE("precision names: fp32 and bf16, anything else an error naming it", "[ops][bf16]") {
    CHECK(parse_precision("fp32") == Precision::FP32);
    CHECK(parse_precision("BF16") == Precision::BF16);
    CHECK(std::string(precision_name(Precision::BF16)) == "bf16");
    test::require_error([] { parse_precision("fp16", "--precision"); }, {"--precision", "fp32 or bf16", "fp16"});
    CHECK(precision() == default_precision());
    CHECK(!cpu::describe_precision(Precision::BF16).empty());
}

}  // namespace test_bf16
