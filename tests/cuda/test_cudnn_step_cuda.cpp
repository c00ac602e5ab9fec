/// @file test_cudnn_step_cuda.cpp
/// @brief A full U-Net training step with cuDNN computing the convolutions and batch norms (the backends
/// bench_cuda_train_step's "cudnn-conv" baseline uses), against the CPU step in FP32 and against ichseg's own
/// kernels in TF32. Runs only where libcudnn loads (this executable's main() skips otherwise); the oracle
/// listener (cudnn_oracle_algos.cpp) keeps cuDNN to direct / GEMM algorithms, so the FP32 comparison holds the
/// CPU step's tolerances (step_support.hpp).
#include "step_support.hpp"

using namespace ichseg;

namespace {
void check_cudnn_step_fp32(const test::StepSetup& base) {
    REQUIRE(cuda::cudnn_algos() == cuda::CudnnAlgos::Direct);
    test::StepSetup s = base;
    const test::StepOutput cpu = test::run_steps(s, Device::cpu());
    s.conv = cuda::ConvBackend::Cudnn;
    s.norm = cuda::NormBackend::Cudnn;
    test::require_step_close_to_cpu(test::run_steps(s, Device::cuda()), cpu);
}
}  // namespace

TEST_CASE("a U-Net training step with cuDNN convolutions and batch norms (FP32) matches the CPU step: small U-Net",
          "[cuda][cudnn][step]") {
    test::StepSetup s;
    s.cfg.base_width = 8;
    s.cfg.depth = 3;
    s.x_shape = {2, 1, 32, 32};
    check_cudnn_step_fp32(s);
}

TEST_CASE("a U-Net training step with cuDNN convolutions and batch norms (FP32) matches the CPU step: the paper's "
          "U-Net at 64x64",
          "[cuda][cudnn][step][large]") {
    test::StepSetup s;  // base 32, depth 5
    s.x_shape = {2, 1, 64, 64};
    check_cudnn_step_fp32(s);
}

TEST_CASE("a TF32 U-Net training step with cuDNN convolutions agrees with ichseg's TF32 step", "[cuda][cudnn][step][large]") {
    test::StepSetup s;
    s.x_shape = {4, 1, 64, 64};
    s.precision = cuda::Precision::TF32;
    const test::StepOutput ours = test::run_steps(s, Device::cuda());
    s.conv = cuda::ConvBackend::Cudnn;
    const test::StepOutput theirs = test::run_steps(s, Device::cuda());
    INFO("loss ichseg " << ours.losses[0] << " cuDNN " << theirs.losses[0]);
    // Both round convolution operands to TF32 (differently): the loss within 1e-2 relative, as the TF32-vs-FP32
    // step test allows, and every parameter's gradient pointing the same way (cosine >= 0.99), except the
    // pre-batch-norm biases, whose exact gradient is 0 (step_support.hpp).
    REQUIRE(std::abs(ours.losses[0] - theirs.losses[0]) <= 1e-2 * std::abs(theirs.losses[0]));
    REQUIRE(ours.names == theirs.names);
    for (size_t i = 0; i < ours.grads.size(); ++i) {
        if (test::gradient_is_zero_in_exact_arithmetic(ours.names[i])) continue;
        const double c = test::cosine(ours.grads[i], theirs.grads[i]);
        INFO("gradient of " << ours.names[i] << ": cosine " << c);
        REQUIRE(c >= 0.99);
    }
}
