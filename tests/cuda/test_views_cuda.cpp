/// @file test_views_cuda.cpp
/// @brief GPU ops on contiguous views that start at an odd storage offset: `narrow` of a flat buffer by 1, 2 or
/// 3 floats, then `view` to the op's shape. Such a view is contiguous, so ops take it without a copy, and its
/// data pointer is 4, 8 or 12 bytes past a 16-byte boundary while every plane has H*W % 4 == 0. A kernel that
/// picks a float4 path from the extents alone (HW % 4 == 0) reads misaligned float4s here and the launch fails
/// with "misaligned address"; the ops must instead give the CPU's values. Inputs and upstream gradients are
/// both placed this way.
#include <cstdint>

#include "cuda_support.hpp"
#include "ichseg/loss/dice.hpp"
#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/ops/batchnorm2d.hpp"
#include "ichseg/ops/concat.hpp"
#include "ichseg/ops/conv2d.hpp"
#include "ichseg/ops/global_avg_pool.hpp"
#include "ichseg/ops/max_pool2d.hpp"
#include "ichseg/ops/relu.hpp"
#include "ichseg/ops/sigmoid.hpp"

using namespace ichseg;
using VV = std::vector<Var<float>>;

namespace {
/// A CUDA copy of `host` that starts `offset` floats into its buffer (a contiguous view; no copy by ops).
Tensor<float> odd_view(const Tensor<float>& host, int64_t offset) {
    Tensor<float> buffer = Tensor<float>::zeros({host.numel() + offset}, Device::cuda());
    Tensor<float> v = buffer.narrow(0, offset, host.numel()).view(host.shape());
    v.copy_(host.contiguous());
    REQUIRE(v.is_contiguous());
    REQUIRE(reinterpret_cast<std::uintptr_t>(v.data()) % 16 == static_cast<std::uintptr_t>(offset * 4) % 16);
    return v;
}

constexpr int64_t kOffsets[] = {1, 2, 3};

/// f on the CPU and on the GPU, every GPU input and the upstream gradient placed at `offset`.
void compare_on_views(const std::function<Var<float>(const VV&)>& f, const std::vector<Tensor<float>>& inputs,
                      double tol, int64_t offset) {
    VV vc, vg;
    for (const auto& t : inputs) {
        vc.emplace_back(t.clone(), true);
        vg.emplace_back(odd_view(t, offset), true);
    }
    Var<float> yc = f(vc), yg = f(vg);
    REQUIRE(yg.device().is_cuda());
    ICHSEG_REQUIRE_GPU_CLOSE(yg.value(), yc.value(), tol);
    const Tensor<float> seed = test::randu(yc.shape(), 77);
    yc.backward(seed);
    yg.backward(odd_view(seed, offset));
    for (size_t i = 0; i < inputs.size(); ++i) {
        INFO("gradient of input " << i);
        REQUIRE(vg[i].grad().defined() == vc[i].grad().defined());
        if (vc[i].grad().defined()) ICHSEG_REQUIRE_GPU_CLOSE(vg[i].grad(), vc[i].grad(), tol);
    }
}
}  // namespace

TEST_CASE("batchnorm2d on CUDA on views at odd storage offsets (H*W % 4 == 0) matches the CPU",
          "[cuda][batchnorm2d][views]") {
    cuda::set_norm_backend(cuda::NormBackend::Ichseg);
    const Shape s{2, 3, 8, 8};  // HW = 64: the vectorised path is eligible by extent
    const Tensor<float> x = test::randu(s, 1, -1, 3), gamma = test::randu({3}, 2, 0.5, 1.5),
                        beta = test::randu({3}, 3), rm0 = test::randu({3}, 4), rv0 = test::randu({3}, 5, 0.5, 2.0);
    for (int64_t off : kOffsets)
        for (bool training : {true, false})
            for (bool relu : {false, true}) {
                INFO("offset " << off << " floats, training " << training << ", relu " << relu);
                Tensor<float> rm_c = rm0.clone(), rv_c = rv0.clone(), rm_g = test::gpu(rm0), rv_g = test::gpu(rv0);
                const BatchNorm2dParams p{1e-5, 0.1, relu};
                compare_on_views(
                    [&](const VV& v) {
                        const bool on_gpu = v[0].device().is_cuda();
                        return batchnorm2d(v[0], v[1], v[2], on_gpu ? rm_g : rm_c, on_gpu ? rv_g : rv_c, training, p);
                    },
                    {x, gamma, beta}, 1e-4, off);  // dx: the cancellation of test_ops_cuda.cpp, 1e-4
                ICHSEG_REQUIRE_GPU_CLOSE(rm_g, rm_c, 1e-6);
                ICHSEG_REQUIRE_GPU_CLOSE(rv_g, rv_c, 1e-5);
            }
}

TEST_CASE("conv2d fprop/dgrad/wgrad on CUDA on views at odd storage offsets match the CPU", "[cuda][conv2d][views]") {
    cuda::set_conv_backend(cuda::ConvBackend::Ichseg);
    const Conv2dParams p = Conv2dParams::same(3);
    const Tensor<float> x = test::randu({2, 5, 12, 12}, 6), w = test::randu({8, 5, 3, 3}, 7, -0.5, 0.5),
                        b = test::randu({8}, 8);
    const Tensor<float> y = conv2d_fprop(x, w, b, p);
    const Tensor<float> dy = test::randu(y.shape(), 9);
    const Tensor<float> dx = conv2d_dgrad(dy, w, x.shape(), p);
    const auto [dw, db] = conv2d_wgrad(dy, x, w.shape(), p, true);
    for (int64_t off : kOffsets)
        for (cuda::Precision prec : {cuda::Precision::FP32, cuda::Precision::TF32, cuda::Precision::BF16}) {
            INFO("offset " << off << " floats at " << cuda::precision_name(prec));
            cuda::PrecisionGuard guard(prec);
            const double tol = test::tol_for(prec);
            const Tensor<float> xg = odd_view(x, off), wg = odd_view(w, off), bg = odd_view(b, off),
                                dyg = odd_view(dy, off);
            ICHSEG_REQUIRE_GPU_CLOSE(conv2d_fprop(xg, wg, bg, p), y, tol);
            ICHSEG_REQUIRE_GPU_CLOSE(conv2d_dgrad(dyg, wg, x.shape(), p), dx, tol);
            const auto [dwg, dbg] = conv2d_wgrad(dyg, xg, w.shape(), p, true);
            ICHSEG_REQUIRE_GPU_CLOSE(dwg, dw, tol);
            ICHSEG_REQUIRE_GPU_CLOSE(dbg, db, 1e-5);
        }
}

TEST_CASE("element-wise ops, pooling, concat and Dice on CUDA on views at odd storage offsets match the CPU",
          "[cuda][pointwise][pool][views]") {
    const Tensor<float> a = test::randu({2, 4, 8, 8}, 10, -3, 3), c = test::randu({2, 4, 8, 8}, 11);
    for (int64_t off : kOffsets) {
        INFO("offset " << off << " floats");
        compare_on_views([](const VV& v) { return relu(v[0]); }, {a}, 0, off);
        compare_on_views([](const VV& v) { return sigmoid(v[0]); }, {a}, 1e-6, off);  // expf vs std::exp
        compare_on_views([](const VV& v) { return add(v[0], v[1]); }, {a, c}, 0, off);
        compare_on_views([](const VV& v) { return mul(v[0], v[1]); }, {a, c}, 0, off);
        compare_on_views([](const VV& v) { return max_pool2d(v[0]); }, {a}, 0, off);
        compare_on_views([](const VV& v) { return concat<float>({v[0], v[1]}, 1); }, {a, c}, 0, off);
        compare_on_views([](const VV& v) { return global_avg_pool(v[0]); }, {a}, 1e-6, off);
        // Dice: value and gradient through the fused loss (the target is a view too)
        const Tensor<float> prob = test::randu({2, 1, 16, 16}, 12, 0, 1);
        Tensor<float> target = test::randu({2, 1, 16, 16}, 13, 0, 1);
        for (int64_t i = 0; i < target.numel(); ++i) target.data()[i] = target.data()[i] > 0.8f ? 1.f : 0.f;
        const DiceParams dp{1.0, 0.2};
        const LossAndGrad<float> lc = dice_loss_value_and_grad(prob, target, dp);
        const LossAndGrad<float> lg = dice_loss_value_and_grad(odd_view(prob, off), odd_view(target, off), dp);
        REQUIRE(std::abs(lg.value - lc.value) <= 1e-6 * std::max(1.0, std::abs(lc.value)));
        ICHSEG_REQUIRE_GPU_CLOSE(lg.grads[0], lc.grads[0], 1e-5);
    }
}
