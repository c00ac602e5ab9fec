/// @file test_determinism_cuda.cpp
/// @brief Bitwise determinism of GPU training: the same two training steps (forward, mixed Dice, backward,
/// Adam), run twice in one process from the same seed, give identical bits in every loss, gradient, parameter
/// and batch-norm buffer, in each precision (runtime.hpp promises FP32 is bitwise-deterministic; the
/// tensor-core modes use the same fixed reduction orders). What would break it: a floating-point atomic
/// whose order varies between runs, split-K partials summed in completion order, a reduction whose tree
/// depends on timing, a random stream not derived from the seed. The paper-size case is large enough that
/// wgrad splits its reduction across blocks.
#include "step_support.hpp"

using namespace ichseg;

namespace {
void check_deterministic(test::StepSetup s) {
    for (cuda::Precision p : {cuda::Precision::FP32, cuda::Precision::TF32, cuda::Precision::BF16}) {
        s.precision = p;
        INFO(cuda::precision_name(p) << ", " << to_string(s.x_shape) << ", " << s.steps << " steps");
        const test::StepOutput first = test::run_steps(s, Device::cuda());
        const test::StepOutput second = test::run_steps(s, Device::cuda());
        for (double l : first.losses) REQUIRE(std::isfinite(l));
        test::require_bitwise_equal(first, second);
    }
}
}  // namespace

TEST_CASE("two GPU training runs from the same seed give identical bits: small U-Net with dropout",
          "[cuda][step][determinism]") {
    test::StepSetup s;
    s.cfg.base_width = 8;
    s.cfg.depth = 3;
    s.cfg.dropout = 0.5;  // the authors' configs: the Philox mask must repeat too
    s.x_shape = {2, 1, 32, 32};
    s.steps = 2;
    check_deterministic(s);
}

TEST_CASE("two GPU training runs from the same seed give identical bits: the paper's U-Net at batch 8, 128x128",
          "[cuda][step][determinism][large]") {
    test::StepSetup s;  // base 32, depth 5: wgrad of the 128x128 layers reduces over 8*128*128 with split-K
    s.x_shape = {8, 1, 128, 128};
    s.steps = 2;
    check_deterministic(s);
}
