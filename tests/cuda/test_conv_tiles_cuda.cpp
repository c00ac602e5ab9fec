/// @file test_conv_tiles_cuda.cpp
/// @brief The implicit-GEMM convolution where its tiling has edges: several M-tiles with a partial last one
/// (M = output channels in fprop and wgrad, input channels in dgrad; the block tile is 64 rows, so 80 = 64 + 16
/// and 200 = 3 x 64 + 8), several N-tiles (128 columns) with a partial last one, a reduction that is not a
/// multiple of the 32-deep K-tile, and wgrad's split-K with a short last split. Every case in every precision
/// against the CPU reference (tolerances: cuda_support.hpp). All cases are small enough for compute-sanitizer.
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
// Tile arithmetic (BM = 64 rows, BN = 128 columns, BK = 32 reduction indices; kernels/conv2d.cuh):
const Case kCases[] = {
    // fprop/wgrad M = K = 80: tiles of 64 + 16 rows. fprop N = 2*13*13 = 338 = 2 x 128 + 82. fprop Kd = 24*9 =
    // 216 = 6 x 32 + 24.
    {"K 80 (M-tiles 64 + 16), C 24, 13x13", 2, 24, 13, 13, 80, 3, 3, 1, 1},
    // dgrad M = C = 80; dgrad N = 3*11*11 = 363 = 2 x 128 + 107; K 40: dgrad Kd = 360 = 11 x 32 + 8.
    {"C 80 (dgrad M-tiles 64 + 16), K 40, 11x11", 3, 80, 11, 11, 40, 3, 3, 1, 1},
    // M = 200 = 3 x 64 + 8 (fprop, wgrad) and dgrad M = C = 136 = 2 x 64 + 8, at stride 2.
    {"K 200, C 136, 9x9 stride 2", 2, 136, 9, 9, 200, 3, 3, 2, 1},
    // wgrad split-K: Kd = N*P*Q = 4*31*31 = 3844 = 120 x 32 + 4 (a partial last K-tile); with M = 80 and
    // N = 24*9 = 216 (2 x 2 tiles) the split count is 14 on a 132-SM H100, the last split 4 tiles of 9.
    {"wgrad split-K, K 80, C 24, 31x31", 4, 24, 31, 31, 80, 3, 3, 1, 1},
    // the up-convolution's geometry (2x2, stride 2) with 80 channels on both sides
    {"2x2 stride 2, C 80, K 72, 16x16", 2, 80, 16, 16, 72, 2, 2, 2, 0},
};
}  // namespace

TEST_CASE("conv2d on CUDA: several M-tiles with a partial last one, partial N- and K-tiles, split-K",
          "[cuda][conv2d][tiles]") {
    cuda::set_conv_backend(cuda::ConvBackend::Ichseg);
    for (const Case& c : kCases) {
        const Conv2dParams p{c.stride, c.stride, c.pad, c.pad, ConvAlgorithm::Im2colGemm};
        const Tensor<float> x = test::randu({c.N, c.C, c.H, c.W}, 11);
        const Tensor<float> w = test::randu({c.K, c.C, c.R, c.S}, 12, -0.5, 0.5);
        const Tensor<float> b = test::randu({c.K}, 13);
        const Tensor<float> y = conv2d_fprop(x, w, b, p);
        const Tensor<float> dy = test::randu(y.shape(), 14);
        const Tensor<float> dx = conv2d_dgrad(dy, w, x.shape(), p);
        const auto [dw, db] = conv2d_wgrad(dy, x, w.shape(), p, true);
        const Tensor<float> xg = gpu(x), wg = gpu(w), bg = gpu(b), dyg = gpu(dy);
        for (cuda::Precision prec : {cuda::Precision::FP32, cuda::Precision::TF32, cuda::Precision::BF16}) {
            cuda::PrecisionGuard guard(prec);
            const double tol = test::tol_for(prec);
            INFO(c.name << " at " << cuda::precision_name(prec));
            ICHSEG_REQUIRE_GPU_CLOSE(conv2d_fprop(xg, wg, bg, p), y, tol);
            ICHSEG_REQUIRE_GPU_CLOSE(conv2d_dgrad(dyg, wg, x.shape(), p), dx, tol);
            const auto [dwg, dbg] = conv2d_wgrad(dyg, xg, w.shape(), p, true);
            ICHSEG_REQUIRE_GPU_CLOSE(dwg, dw, tol);
            ICHSEG_REQUIRE_GPU_CLOSE(dbg, db, 1e-5);  // bias gradient: an FP32 reduction in every precision
        }
    }
}

TEST_CASE("conv_transpose2d on CUDA with 80 output channels (partial M-tile in its dgrad-role forward)",
          "[cuda][conv_transpose2d][tiles]") {
    cuda::set_conv_backend(cuda::ConvBackend::Ichseg);
    const ConvTranspose2dParams p{2, 2, 0, 0, 0, 0};
    const Tensor<float> x = test::randu({2, 160, 8, 8}, 21), w = test::randu({160, 80, 2, 2}, 22, -0.5, 0.5),
                        b = test::randu({80}, 23);
    const Tensor<float> y = conv_transpose2d_fprop(x, w, b, p);
    const Tensor<float> dy = test::randu(y.shape(), 24);
    const Tensor<float> dx = conv_transpose2d_dgrad(dy, w, p);
    const auto [dw, db] = conv_transpose2d_wgrad(dy, x, w.shape(), p, true);
    for (cuda::Precision prec : {cuda::Precision::FP32, cuda::Precision::TF32, cuda::Precision::BF16}) {
        cuda::PrecisionGuard guard(prec);
        const double tol = test::tol_for(prec);
        INFO(cuda::precision_name(prec));
        ICHSEG_REQUIRE_GPU_CLOSE(conv_transpose2d_fprop(gpu(x), gpu(w), gpu(b), p), y, tol);
        ICHSEG_REQUIRE_GPU_CLOSE(conv_transpose2d_dgrad(gpu(dy), gpu(w), p), dx, tol);
        const auto [dwg, dbg] = conv_transpose2d_wgrad(gpu(dy), gpu(x), w.shape(), p, true);
        ICHSEG_REQUIRE_GPU_CLOSE(dwg, dw, tol);
        ICHSEG_REQUIRE_GPU_CLOSE(dbg, db, 1e-5);
    }
}
