/// @file inference.hpp (predict)
/// @brief Batched inference and the intracranial-cavity rule, written once for the `Segmenter` (segmenter.hpp)
/// and the study's held-out evaluation (study/evaluate.hpp):
///  * `batched_probabilities`: sigmoid probability maps of a segmentation U-Net for n single-channel inputs,
///    `batch_size` per forward pass, in eval mode under `NoGradGuard`, on the device of the network's
///    parameters; the inputs are built on the CPU by the caller's `fill`, the maps come back to the CPU;
///  * the ICM rule (SPEC §7): a pixel is intracranial cavity when either ICM U-Net (tissue window, bone window)
///    predicts it (p >= threshold), and hemorrhage is predicted only inside the cavity.
/// Thresholds compare in double precision (`p >= threshold`), as the evaluation's metrics do (eval/metrics.hpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>

#include "ichseg/autograd/grad_mode.hpp"
#include "ichseg/core/device.hpp"
#include "ichseg/core/error.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/nn/unet.hpp"
#include "ichseg/ops/sigmoid.hpp"

namespace ichseg::predict {

/// Writes network input i (H * W floats, already windowed and resized) to `dst`.
using InputFill = std::function<void(int64_t i, float* dst)>;

/// Probability maps (n, H, W) on the CPU of `n` inputs of H x W pixels (one channel): `fill(i, dst)` builds input
/// i; `net` runs on `device` (where its parameters are) in eval mode without a tape, `batch_size` inputs per
/// forward pass; the sigmoid is applied unless the network ends with one. `on_batch(done)` after each batch.
inline Tensor<float> batched_probabilities(nn::UNet<float>& net, Device device, int64_t n, int64_t H, int64_t W,
                                           int64_t batch_size, const InputFill& fill,
                                           const std::function<void(int64_t done)>& on_batch = {}) {
    ICHSEG_CHECK(batch_size >= 1, "batched_probabilities: batch_size must be >= 1, got ", batch_size);
    ICHSEG_CHECK(n >= 0 && H >= 1 && W >= 1, "batched_probabilities: bad sizes n = ", n, ", ", H, " x ", W);
    Tensor<float> out = Tensor<float>::empty({n, H, W});
    NoGradGuard no_grad;
    net.eval();
    for (int64_t b0 = 0; b0 < n; b0 += batch_size) {
        const int64_t nb = std::min(batch_size, n - b0);
        Tensor<float> x = Tensor<float>::empty({nb, 1, H, W});
        for (int64_t i = 0; i < nb; ++i) fill(b0 + i, x.data() + i * H * W);
        Var<float> y = net.forward(Var<float>(x.to(device)));
        if (!net.config().output_sigmoid) y = sigmoid(y);
        const Tensor<float> yc = y.value().to(Device::cpu()).contiguous();
        ICHSEG_CHECK(yc.numel() == nb * H * W, "batched_probabilities: the network returned shape ",
                     to_string(yc.shape()), " for ", nb, " inputs of ", H, " x ", W, " (one output channel expected)");
        std::copy(yc.data(), yc.data() + nb * H * W, out.data() + b0 * H * W);
        if (on_batch) on_batch(b0 + nb);
    }
    return out;
}

/// The ICM rule for one pixel: cavity where either ICM network predicts it.
inline bool in_cavity(float p_tissue, float p_bone, double threshold) {
    return p_tissue >= threshold || p_bone >= threshold;
}

/// The ICM rule over `n` pixels: `cavity[i]` = 1 where either ICM network predicts cavity.
inline void cavity_mask(const float* p_tissue, const float* p_bone, int64_t n, double threshold, uint8_t* cavity) {
    for (int64_t i = 0; i < n; ++i) cavity[i] = in_cavity(p_tissue[i], p_bone[i], threshold) ? 1 : 0;
}

/// Hemorrhage at a pixel: the ICH network predicts it and the pixel is cavity (predictions outside are set to 0).
inline bool hemorrhage(float p_ich, bool cavity, double threshold) { return cavity && p_ich >= threshold; }

}  // namespace ichseg::predict
