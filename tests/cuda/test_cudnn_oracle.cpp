/// @file test_cudnn_oracle.cpp
/// @brief ichseg's CUDA convolution and batch-norm kernels against cuDNN on the paper U-Net's full-size layer
/// shapes (batch 8): the GPU oracle for shapes too large for the CPU reference. Runs only where libcudnn.so.9
/// loads (this executable's main() skips otherwise). FP32 vs FP32 (cuDNN FMA math) with the FP32 tolerance;
/// TF32 vs TF32 with the TF32 tolerance (both sides round operands, differently).
#include "cuda_support.hpp"
#include "ichseg/ops/batchnorm2d.hpp"
#include "ichseg/ops/conv2d.hpp"

using namespace ichseg;
using test::gpu;

namespace {
struct Layer {
    const char* name;
    int64_t C, K, HW;
};
// (C -> K at HW x HW) for every 3x3 convolution of the paper's U-Net.
const Layer kLayers[] = {{"enc0.conv1", 1, 16, 256},   {"enc0.conv2", 16, 32, 256},  {"enc1.conv1", 32, 32, 128},
                         {"enc1.conv2", 32, 64, 128},  {"enc2.conv1", 64, 64, 64},   {"enc2.conv2", 64, 128, 64},
                         {"enc3.conv1", 128, 128, 32}, {"enc3.conv2", 128, 256, 32}, {"enc4.conv1", 256, 256, 16},
                         {"enc4.conv2", 256, 512, 16}, {"dec0.conv1", 512, 256, 32}, {"dec1.conv1", 256, 128, 64},
                         {"dec2.conv1", 128, 64, 128}, {"dec3.conv1", 64, 32, 256},  {"dec3.conv2", 32, 32, 256}};
}  // namespace

TEST_CASE("ichseg conv2d kernels match cuDNN on the paper U-Net's layers (batch 8)", "[cuda][cudnn][conv2d]") {
    const Conv2dParams p = Conv2dParams::same(3);
    for (const Layer& l : kLayers)
        for (cuda::Precision prec : {cuda::Precision::FP32, cuda::Precision::TF32}) {
            INFO(l.name << " at " << cuda::precision_name(prec));
            cuda::PrecisionGuard guard(prec);
            const Tensor<float> x = gpu(test::randu({8, l.C, l.HW, l.HW}, 1));
            const Tensor<float> w = gpu(test::randu({l.K, l.C, 3, 3}, 2, -0.3, 0.3)), b = gpu(test::randu({l.K}, 3));
            const Tensor<float> dy = gpu(test::randu({8, l.K, l.HW, l.HW}, 4));
            cuda::set_conv_backend(cuda::ConvBackend::Cudnn);
            const Tensor<float> y_ref = conv2d_fprop(x, w, b, p), dx_ref = conv2d_dgrad(dy, w, x.shape(), p);
            const auto [dw_ref, db_ref] = conv2d_wgrad(dy, x, w.shape(), p, true);
            cuda::set_conv_backend(cuda::ConvBackend::Ichseg);
            const double tol = test::tol_for(prec);
            ICHSEG_REQUIRE_GPU_CLOSE(conv2d_fprop(x, w, b, p), y_ref, tol);
            ICHSEG_REQUIRE_GPU_CLOSE(conv2d_dgrad(dy, w, x.shape(), p), dx_ref, tol);
            const auto [dw, db] = conv2d_wgrad(dy, x, w.shape(), p, true);
            ICHSEG_REQUIRE_GPU_CLOSE(dw, dw_ref, tol);
            ICHSEG_REQUIRE_GPU_CLOSE(db, db_ref, 1e-5);
        }
}

TEST_CASE("ichseg batch norm matches cuDNN's (training forward and backward)", "[cuda][cudnn][batchnorm2d]") {
    for (const Shape& s : {Shape{32, 16, 256, 256}, Shape{32, 512, 16, 16}, Shape{3, 5, 7, 9}}) {
        INFO(to_string(s));
        const Tensor<float> x = gpu(test::randu(s, 1, -1, 3)), gamma = gpu(test::randu({s[1]}, 2, 0.5, 1.5)),
                            beta = gpu(test::randu({s[1]}, 3)), seed = gpu(test::randu(s, 4));
        auto run = [&](cuda::NormBackend nb) {
            cuda::set_norm_backend(nb);
            Tensor<float> rm = Tensor<float>::zeros({s[1]}, Device::cuda()), rv = Tensor<float>::full({s[1]}, 1.f, Device::cuda());
            Var<float> xv(x, true), gv(gamma, true), bv(beta, true);
            Var<float> y = batchnorm2d(xv, gv, bv, rm, rv, true, BatchNorm2dParams{1e-5, 0.1, true});
            y.backward(seed);
            return std::vector<Tensor<float>>{y.value(), xv.grad(), gv.grad(), bv.grad(), rm, rv};
        };
        const auto ref = run(cuda::NormBackend::Cudnn), got = run(cuda::NormBackend::Ichseg);
        cuda::set_norm_backend(cuda::NormBackend::Ichseg);
        for (size_t i = 0; i < ref.size(); ++i) {
            INFO("output " << i << " (y, dx, dgamma, dbeta, running mean, running var)");
            ICHSEG_REQUIRE_GPU_CLOSE(got[i], ref[i], 1e-4);
        }
    }
}
