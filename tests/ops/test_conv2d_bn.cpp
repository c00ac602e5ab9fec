/// @file test_conv2d_bn.cpp
/// @brief conv2d_bn_fprop_infer (ops/conv2d.hpp): a convolution whose epilogue applies the inference batch norm's
/// affine map and the ReLU, against conv2d_fprop followed by batchnorm2d_fwd_infer, on every CPU algorithm the
/// dispatch picks: Winograd F(2x2) and F(4x4) (both schedules), the single-channel loops, im2col + GEMM (small
/// channel counts, strides, 1x1, forced, double), and the direct BF16 kernels (AMX and VDPBF16PS), on 1 and 3
/// threads; bad input.
///
/// Tolerances. The fused call runs the same kernel with the same summation order and bias as conv2d_fprop, so both
/// produce the same convolution output c, and the same scale a and shift b (cpu::batchnorm2d_infer_affine). They
/// differ only in how r = c a + b is rounded: once (FMA) or twice (product, then sum), depending on what the compiler
/// contracts at each site. With u = 2^-24: |fl(fl(c a) + b) - (c a + b)| <= u |c a| + u (|c a| (1 + u) + |b|) and
/// |fl(c a + b) - (c a + b)| <= u (|c a| + |b|), so the two differ by at most 3u (|c a| + |b|) (+ O(u^2)); ReLU does
/// not increase a difference. The check is |fused - unfused| <= 4u (|c a| + |b|) per element.
/// BF16 against the exact convolution of the FP32 operands (double), test_bf16.cpp's bound scaled by |a|:
/// |fused - act(a c_exact + b)| <= |a| (2 u_bf + u_bf^2 + gamma_n) S + 4u (|a c| + |b|), u_bf = 2^-8,
/// gamma_n = (n + 2) 2^-24, n = 9 C, S = sum |x w| + |bias| (exactly, in double).
/// Where the build has no BF16 product instructions, a BF16 request must give the FP32 fused result bit for bit.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "ichseg/cpu/bf16.hpp"
#include "ichseg/ops/conv2d.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/threads.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_conv2d_bn {

namespace {
constexpr double kU32 = 1.0 / 16777216;  // FP32 unit roundoff, 2^-24
constexpr double kUbf = 1.0 / 256;       // BF16 unit roundoff, 2^-8

/// A convolution with a batch norm of non-trivial statistics after it.
template <class T>
struct Case {
    Tensor<T> x, w, b, gamma, beta, mean, var;
    Conv2dParams p;
    double eps = 1e-5;
    Case(int64_t N, int64_t C, int64_t K, int64_t H, int64_t W, int64_t R, Conv2dParams params, bool bias = true,
         uint64_t seed = 1)
        : p(params) {
        x = uniform<T>({N, C, H, W}, seed, -1.0, 1.0);
        w = uniform<T>({K, C, R, R}, seed + 1, -0.5, 0.5);
        if (bias) b = uniform<T>({K}, seed + 2, -0.5, 0.5);
        gamma = uniform<T>({K}, seed + 3, -2.0, 2.0);  // negative scales too: ReLU then cuts the other side
        beta = uniform<T>({K}, seed + 4, -1.0, 1.0);
        mean = uniform<T>({K}, seed + 5, -0.5, 0.5);
        var = uniform<T>({K}, seed + 6, 0.05, 3.0);
    }
    BatchNorm2dParams bn(bool relu) const { return {eps, 0.1, relu}; }
    Conv2dGeometry geometry() const { return conv2d_geometry<T>("test", x.shape(), w.shape(), p); }
    Tensor<T> conv() const { return conv2d_fprop(x, w, b, p); }
    Tensor<T> unfused(bool relu) const { return batchnorm2d_fwd_infer(conv(), gamma, beta, mean, var, bn(relu)).y; }
    Tensor<T> fused(bool relu) const { return conv2d_bn_fprop_infer(x, w, b, gamma, beta, mean, var, p, bn(relu)); }
    double scale(int64_t k) const { return gamma.data()[k] / std::sqrt(static_cast<double>(var.data()[k]) + eps); }
    double shift(int64_t k) const { return beta.data()[k] - mean.data()[k] * scale(k); }
};

/// |fused - unfused| <= 4u (|c a| + |b|) per element (file comment); c: the convolution's output.
template <class T>
void check_against_unfused(const Case<T>& cs, const Tensor<T>& fused, const Tensor<T>& unfused, const Tensor<T>& c,
                           double u) {
    REQUIRE(fused.shape() == unfused.shape());
    const int64_t K = c.size(1), HW = c.size(2) * c.size(3);
    double worst = 0;
    int64_t equal = 0;
    for (int64_t i = 0; i < fused.numel(); ++i) {
        const int64_t k = (i / HW) % K;
        const double lim = 4 * u * (std::abs(c.data()[i] * cs.scale(k)) + std::abs(cs.shift(k)));
        const double d = std::abs(static_cast<double>(fused.data()[i]) - unfused.data()[i]);
        worst = std::max(worst, d / lim);
        equal += fused.data()[i] == unfused.data()[i];
    }
    INFO("worst |fused - unfused| / bound = " << worst << ", " << equal << " of " << fused.numel()
                                              << " elements bitwise equal");
    CHECK(worst <= 1.0);
}

template <class T>
void check_case(const Case<T>& cs, double u) {
    const Tensor<T> c = cs.conv();
    for (bool relu : {true, false}) {
        INFO("relu " << relu);
        const Tensor<T> f = cs.fused(relu);
        check_against_unfused(cs, f, cs.unfused(relu), c, u);
        if (relu) {  // the ReLU is really applied: no negative output, and some zeros where the affine is negative
            int64_t zeros = 0;
            for (int64_t i = 0; i < f.numel(); ++i) {
                CHECK(f.data()[i] >= T(0));
                zeros += f.data()[i] == T(0);
            }
            CHECK(zeros > 0);
        }
    }
}
}  // namespace

TEST_CASE("conv + BN(eval) + ReLU fused on Winograd F(2x2) and F(4x4), both schedules, equals the two ops",
          "[ops][conv2d][fused]") {
    struct G {
        int64_t N, C, K, H, W;
    };
    // 16x16 and 8x8: F(2x2); 40x36 and 32x32: F(4x4); each on both schedules (forced; Auto picks the shared one
    // for the 8x8 case only)
    using Schedule = cpu::winograd::Tuning::Schedule;
    struct RestoreTuning {
        ~RestoreTuning() { cpu::winograd::tuning() = cpu::winograd::Tuning{}; }
    } restore;
    for (const G& gm : {G{2, 16, 24, 16, 16}, G{3, 32, 32, 8, 8}, G{1, 8, 16, 40, 36}, G{2, 24, 16, 32, 32}}) {
        INFO("N " << gm.N << " C " << gm.C << " K " << gm.K << " " << gm.H << "x" << gm.W);
        const Case<float> cs(gm.N, gm.C, gm.K, gm.H, gm.W, 3, Conv2dParams::same(3));
        REQUIRE(detail::use_winograd<float>(cs.geometry(), cs.p));  // the path under test is Winograd
        for (Schedule sched : {Schedule::Auto, Schedule::Blocked, Schedule::Shared}) {
            cpu::winograd::tuning().schedule = sched;
            for (int threads : {1, 3}) {
                const ScopedThreads t(threads);
                INFO("schedule " << static_cast<int>(sched) << ", " << threads << " thread(s)");
                check_case(cs, kU32);
            }
        }
    }
}

TEST_CASE("conv + BN(eval) + ReLU fused on the non-Winograd paths equals the two ops", "[ops][conv2d][fused]") {
    // the single-channel input layer (the U-Net's first conv)
    const Case<float> single(2, 1, 16, 24, 20, 3, Conv2dParams::same(3));
    REQUIRE(detail::use_single_channel(single.geometry(), single.p));
    // im2col + GEMM: 3x3 with few channels (Auto's choice), stride 2, 1x1, forced on a Winograd-sized 3x3, no bias
    const Case<float> small(2, 3, 5, 7, 9, 3, Conv2dParams::same(3));
    REQUIRE_FALSE(detail::use_winograd<float>(small.geometry(), small.p));
    Conv2dParams forced = Conv2dParams::same(3);
    forced.algorithm = ConvAlgorithm::Im2colGemm;
    const Case<float> gemm3x3(2, 16, 16, 16, 16, 3, forced, false, 31);
    REQUIRE_FALSE(detail::use_winograd<float>(gemm3x3.geometry(), gemm3x3.p));
    const Case<float> strided(2, 6, 10, 11, 13, 3, Conv2dParams{2, 2, 1, 1}, true, 11);
    const Case<float> pointwise(2, 12, 7, 9, 9, 1, Conv2dParams{}, true, 21);
    // double: im2col + GEMM, the reference path
    const Case<double> dbl(2, 8, 12, 10, 10, 3, Conv2dParams::same(3));
    for (int threads : {1, 3}) {
        const ScopedThreads t(threads);
        INFO(threads << " thread(s)");
        {
            INFO("single channel");
            check_case(single, kU32);
        }
        {
            INFO("im2col + GEMM");
            check_case(small, kU32);
            check_case(gemm3x3, kU32);
            check_case(strided, kU32);
            check_case(pointwise, kU32);
        }
        {
            INFO("double");
            check_case(dbl, 1.0 / 9007199254740992.0);  // u = 2^-53
        }
    }
}

TEST_CASE("conv + BN(eval) + ReLU fused in BF16 (AMX and VDPBF16PS) within the BF16 bounds", "[ops][conv2d][fused][bf16]") {
    struct G {
        int64_t N, C, K, H, W;
    };
    // rows of 16 (strips stored per row) and odd widths (strips across rows); one, two, three blocks of 16 output
    // channels; channel counts that are not multiples of the kernels' blocks
    const G cases[] = {{2, 32, 32, 16, 16}, {1, 8, 16, 16, 32}, {1, 16, 48, 32, 32}, {2, 3, 5, 7, 9}, {1, 40, 24, 20, 12}};
    struct ForceBf16Conv {  // the direct BF16 kernels for every 3x3 geometry (Auto keeps some in FP32)
        ForceBf16Conv() { cpu::conv_bf16::bf16_conv_mode() = cpu::conv_bf16::Bf16ConvMode::Always; }
        ~ForceBf16Conv() { cpu::conv_bf16::bf16_conv_mode() = cpu::conv_bf16::Bf16ConvMode::Auto; }
    } force;
    for (const G& gm : cases) {
        INFO("N " << gm.N << " C " << gm.C << " K " << gm.K << " " << gm.H << "x" << gm.W);
        const Case<float> cs(gm.N, gm.C, gm.K, gm.H, gm.W, 3, Conv2dParams::same(3));
        if (!cpu::bf16_available()) {
            // The fallback: BF16 asked, the FP32 fused result computed, bit for bit (and that one is checked above).
            const Tensor<float> f32 = cs.fused(true);
            const PrecisionGuard bf16(Precision::BF16);
            CHECK(cs.fused(true).to_vector() == f32.to_vector());
            continue;
        }
        // The exact convolution of the FP32 operands and S = sum |x w| + |bias|, in double.
        const Conv2dGeometry g = cs.geometry();
        auto to_double = [](const Tensor<float>& t, bool absolute) {
            Tensor<double> d = Tensor<double>::empty(t.shape());
            for (int64_t i = 0; i < t.numel(); ++i) d.data()[i] = absolute ? std::abs(t.data()[i]) : t.data()[i];
            return d;
        };
        Tensor<double> c_exact = Tensor<double>::empty({gm.N, gm.K, gm.H, gm.W}), mag = Tensor<double>::empty(c_exact.shape());
        cpu::conv2d_fprop<double>(g, to_double(cs.x, false).data(), to_double(cs.w, false).data(),
                                  to_double(cs.b, false).data(), c_exact.data());
        cpu::conv2d_fprop<double>(g, to_double(cs.x, true).data(), to_double(cs.w, true).data(),
                                  to_double(cs.b, true).data(), mag.data());
        const double gamma_n = (9 * gm.C + 2) * kU32, HW = static_cast<double>(gm.H * gm.W);
        for (int threads : {1, 3}) {
            const ScopedThreads t(threads);
            INFO(threads << " thread(s)");
            auto run = [&] {
                INFO("kernel " << cpu::bf16_kernel_name(cpu::bf16_kernel()));
                const PrecisionGuard bf16(Precision::BF16);
                REQUIRE(detail::use_bf16(g, cs.p));
                const Tensor<float> c = cs.conv();  // the BF16 convolution, as the unfused path computes it
                for (bool relu : {true, false}) {
                    INFO("relu " << relu);
                    const Tensor<float> f = cs.fused(relu);
                    check_against_unfused(cs, f, cs.unfused(relu), c, kU32);
                    double worst = 0;
                    for (int64_t i = 0; i < f.numel(); ++i) {
                        const int64_t k = static_cast<int64_t>(i / HW) % gm.K;
                        const double a = cs.scale(k), b = cs.shift(k);
                        double ref = a * c_exact.data()[i] + b;
                        if (relu) ref = std::max(0.0, ref);
                        const double lim = std::abs(a) * (2 * kUbf + kUbf * kUbf + gamma_n) * mag.data()[i] +
                                           4 * kU32 * (std::abs(a * c.data()[i]) + std::abs(b));
                        worst = std::max(worst, std::abs(f.data()[i] - ref) / lim);
                    }
                    INFO("BF16 fused vs exact: error / bound = " << worst);
                    CHECK(worst <= 1.0);
                }
            };
            if (cpu::bf16_kernel() == cpu::Bf16Kernel::Amx) run();
            cpu::force_bf16_avx512(true);
            run();
            cpu::force_bf16_avx512(false);
        }
    }
}

TEST_CASE("conv2d_bn_fprop_infer computes scale and shift per call: changed statistics are seen", "[ops][conv2d][fused]") {
    Case<float> cs(1, 8, 8, 8, 8, 3, Conv2dParams::same(3));
    const Tensor<float> before = cs.fused(true);
    cs.var.data()[3] *= 4.f;  // in place, as a training step or a checkpoint load changes the buffers
    cs.beta.data()[5] += 1.f;
    const Tensor<float> after = cs.fused(true);
    CHECK(after.to_vector() != before.to_vector());
    check_against_unfused(cs, after, cs.unfused(true), cs.conv(), kU32);
}

TEST_CASE("conv2d_bn_fprop_infer rejects mismatched batch-norm tensors, naming the op and the shapes",
          "[ops][conv2d][fused][bad_input]") {
    const Case<float> cs(1, 4, 6, 8, 8, 3, Conv2dParams::same(3));
    const BatchNorm2dParams bn = cs.bn(true);
    const Tensor<float> five = Tensor<float>::full({5}, 1.f);
    ICHSEG_REQUIRE_ERROR(conv2d_bn_fprop_infer(cs.x, cs.w, cs.b, five, cs.beta, cs.mean, cs.var, cs.p, bn),
                         {"conv2d_bn_fprop_infer", "batch-norm weight", "(6)", "[5]"});
    ICHSEG_REQUIRE_ERROR(conv2d_bn_fprop_infer(cs.x, cs.w, cs.b, cs.gamma, five, cs.mean, cs.var, cs.p, bn),
                         {"conv2d_bn_fprop_infer", "batch-norm bias"});
    ICHSEG_REQUIRE_ERROR(conv2d_bn_fprop_infer(cs.x, cs.w, cs.b, cs.gamma, cs.beta, five, cs.var, cs.p, bn),
                         {"conv2d_bn_fprop_infer", "running statistics"});
    ICHSEG_REQUIRE_ERROR(conv2d_bn_fprop_infer(cs.x, cs.w, cs.b, cs.gamma, cs.beta, cs.mean, Tensor<float>(), cs.p, bn),
                         {"conv2d_bn_fprop_infer", "running statistics are required"});
    ICHSEG_REQUIRE_ERROR(conv2d_bn_fprop_infer(cs.x, cs.w, five, cs.gamma, cs.beta, cs.mean, cs.var, cs.p, bn),
                         {"conv2d_bn_fprop_infer", "bias"});
    const Tensor<float> w3 = Tensor<float>::zeros({6, 3, 3, 3});
    ICHSEG_REQUIRE_ERROR(conv2d_bn_fprop_infer(cs.x, w3, cs.b, cs.gamma, cs.beta, cs.mean, cs.var, cs.p, bn),
                         {"conv2d_bn_fprop_infer", "4 channels", "[6, 3, 3, 3]"});
}

}  // namespace test_conv2d_bn
