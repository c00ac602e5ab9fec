/// @file test_conv2d_cuda.cpp
/// @brief conv2d fprop / dgrad / wgrad and conv_transpose2d on the GPU (ichseg implicit GEMM, each precision)
/// against the CPU reference, on the U-Net's layer shapes, odd sizes, batch 1, strides, non-square kernels and
/// channel counts that are not multiples of 8. Tolerances: cuda_support.hpp.
#include <cstdlib>
#include <tuple>

#include "cuda_support.hpp"
#include "ichseg/ops/conv2d.hpp"
#include "ichseg/ops/conv_transpose2d.hpp"

using namespace ichseg;
using test::gpu;

namespace {
struct Case {
    const char* name;
    int64_t N, C, H, W, K, R, S, stride, pad;
};
// Paper U-Net (base 32, conv1 halves the width) layer geometries at batch 1-2, plus edge cases.
const Case kCases[] = {
    {"enc0.conv1 1->16 @256 (batch 1)", 1, 1, 256, 256, 16, 3, 3, 1, 1},
    {"enc0.conv2 16->32 @128", 2, 16, 128, 128, 32, 3, 3, 1, 1},
    {"enc2.conv2 64->128 @64", 2, 64, 64, 64, 128, 3, 3, 1, 1},
    {"enc3.conv2 128->256 @32", 2, 128, 32, 32, 256, 3, 3, 1, 1},
    {"dec0.conv1 512->256 @16", 2, 512, 16, 16, 256, 3, 3, 1, 1},
    {"head 1x1 32->1 @64", 2, 32, 64, 64, 1, 1, 1, 1, 0},
    {"odd 3->5 17x23 (batch 1)", 1, 3, 17, 23, 5, 3, 3, 1, 1},
    {"stride 2, 5x3 kernel, pad 2", 3, 7, 19, 13, 11, 5, 3, 2, 2},
    {"1x1 12->20 9x9", 1, 12, 9, 9, 20, 1, 1, 1, 0},
    {"2x2 stride 2 (deconv geometry)", 2, 5, 15, 16, 6, 2, 2, 2, 0},
    {"stride 3 > kernel/2, no pad", 1, 9, 8, 8, 13, 3, 3, 3, 0},
    {"5x5 pad 4", 1, 4, 5, 5, 7, 5, 5, 1, 4},
};
const cuda::Precision kPrecisions[] = {cuda::Precision::FP32, cuda::Precision::TF32, cuda::Precision::BF16};
}  // namespace

TEST_CASE("conv2d fprop/dgrad/wgrad on CUDA match the CPU on the shape matrix", "[cuda][conv2d]") {
    cuda::set_conv_backend(cuda::ConvBackend::Ichseg);
    // Under compute-sanitizer (tools/gpu_verify.sh) only the small cases run: the tools slow kernels 10-100x.
    const bool small_only = std::getenv("ICHSEG_CUDA_TEST_SMALL") != nullptr;
    for (const Case& c : kCases) {
        if (small_only && c.N * c.C * c.H * c.W > 100000) continue;
        // Non-square kernels use R x S with S from the table; 5x3 etc.
        Conv2dParams p{c.stride, c.stride, c.pad, c.pad, ConvAlgorithm::Im2colGemm};
        if (c.R != c.S) p.pad_w = c.pad / 2;
        const Tensor<float> x = test::randu({c.N, c.C, c.H, c.W}, 1);
        const Tensor<float> w = test::randu({c.K, c.C, c.R, c.S}, 2, -0.5, 0.5);
        const Tensor<float> b = test::randu({c.K}, 3);
        const Tensor<float> y = conv2d_fprop(x, w, b, p);
        const Tensor<float> dy = test::randu(y.shape(), 4);
        const Tensor<float> dx = conv2d_dgrad(dy, w, x.shape(), p);
        const auto [dw, db] = conv2d_wgrad(dy, x, w.shape(), p, true);
        const Tensor<float> xg = gpu(x), wg = gpu(w), bg = gpu(b), dyg = gpu(dy);
        for (cuda::Precision prec : kPrecisions) {
            cuda::PrecisionGuard guard(prec);
            const double tol = test::tol_for(prec);
            INFO(c.name << " at " << cuda::precision_name(prec));
            const Tensor<float> yg = conv2d_fprop(xg, wg, bg, p);
            REQUIRE(yg.device().is_cuda());
            ICHSEG_REQUIRE_GPU_CLOSE(yg, y, tol);
            ICHSEG_REQUIRE_GPU_CLOSE(conv2d_dgrad(dyg, wg, x.shape(), p), dx, tol);
            const auto [dwg, dbg] = conv2d_wgrad(dyg, xg, w.shape(), p, true);
            ICHSEG_REQUIRE_GPU_CLOSE(dwg, dw, tol);
            ICHSEG_REQUIRE_GPU_CLOSE(dbg, db, 1e-5);  // bias gradient: an FP32 reduction in every precision
        }
    }
}

TEST_CASE("conv_transpose2d on CUDA matches the CPU (U-Net up-convolution and an odd case)", "[cuda][conv_transpose2d]") {
    cuda::set_conv_backend(cuda::ConvBackend::Ichseg);
    struct T {
        Shape x, w;
        ConvTranspose2dParams p;
    };
    const T cases[] = {{{2, 64, 32, 32}, {64, 32, 2, 2}, {2, 2, 0, 0, 0, 0}},
                       {{1, 512, 16, 16}, {512, 256, 2, 2}, {2, 2, 0, 0, 0, 0}},
                       {{1, 7, 9, 11}, {7, 5, 3, 3}, {2, 2, 1, 1, 1, 1}}};
    const bool small_only = std::getenv("ICHSEG_CUDA_TEST_SMALL") != nullptr;
    for (const T& c : cases) {
        if (small_only && numel(c.x) > 100000) continue;
        const Tensor<float> x = test::randu(c.x, 5), w = test::randu(c.w, 6, -0.5, 0.5), b = test::randu({c.w[1]}, 7);
        const Tensor<float> y = conv_transpose2d_fprop(x, w, b, c.p);
        const Tensor<float> dy = test::randu(y.shape(), 8);
        const Tensor<float> dx = conv_transpose2d_dgrad(dy, w, c.p);
        const auto [dw, db] = conv_transpose2d_wgrad(dy, x, w.shape(), c.p, true);
        for (cuda::Precision prec : kPrecisions) {
            cuda::PrecisionGuard guard(prec);
            const double tol = test::tol_for(prec);
            INFO(to_string(c.x) << " at " << cuda::precision_name(prec));
            ICHSEG_REQUIRE_GPU_CLOSE(conv_transpose2d_fprop(gpu(x), gpu(w), gpu(b), c.p), y, tol);
            ICHSEG_REQUIRE_GPU_CLOSE(conv_transpose2d_dgrad(gpu(dy), gpu(w), c.p), dx, tol);
            const auto [dwg, dbg] = conv_transpose2d_wgrad(gpu(dy), gpu(x), w.shape(), c.p, true);
            ICHSEG_REQUIRE_GPU_CLOSE(dwg, dw, tol);
            ICHSEG_REQUIRE_GPU_CLOSE(dbg, db, 1e-5);
        }
    }
}

TEST_CASE("conv2d on CUDA: integer-valued inputs give exact FP32 results", "[cuda][conv2d]") {
    // Small integers: every product and partial sum is exactly representable, so any summation order is exact.
    cuda::PrecisionGuard guard(cuda::Precision::FP32);
    Tensor<float> x = Tensor<float>::empty({2, 6, 11, 9}), w = Tensor<float>::empty({5, 6, 3, 3});
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>(static_cast<int>(random_u32(3, 1, i) % 9) - 4);
    for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = static_cast<float>(static_cast<int>(random_u32(3, 2, i) % 9) - 4);
    const Conv2dParams p = Conv2dParams::same(3);
    const Tensor<float> y = conv2d_fprop(x, w, Tensor<float>(), p);
    const Tensor<float> yg = conv2d_fprop(gpu(x), gpu(w), Tensor<float>(), p);
    REQUIRE(yg.to_vector() == y.to_vector());
}

TEST_CASE("conv2d on CUDA rejects double tensors and mixed devices with a clear message", "[cuda][conv2d]") {
    const Tensor<float> x = gpu(test::randu({1, 2, 5, 5}, 1)), w = test::randu({3, 2, 3, 3}, 2);
    REQUIRE_THROWS_WITH(conv2d_fprop(x, w, Tensor<float>(), Conv2dParams::same(3)),
                        Catch::Contains("conv2d_fprop: arguments on different devices"));
    Tensor<double> xd = Tensor<double>::zeros({1, 2, 5, 5}, Device::cuda()), wd = Tensor<double>::zeros({3, 2, 3, 3}, Device::cuda());
    REQUIRE_THROWS_WITH(conv2d_fprop(xd, wd, Tensor<double>(), Conv2dParams::same(3)),
                        Catch::Contains("conv2d_fprop: F64 tensors on cuda:0 are not supported by the CUDA backend") &&
                            Catch::Contains("compute in float"));
}
