/// @file conv2d.hpp (params)
/// @brief The sizes of one 2-D convolution (NCHW, groups 1), shared by the CPU kernels (cpu/conv2d*.hpp), the
/// CUDA launchers (cuda/conv2d.hpp) and the CUDA kernels (kernels/conv2d*.cu*). Built and validated by
/// ops/conv2d.hpp (`conv2d_geometry`); conv_transpose2d uses the same struct through its convolution view.
/// Also the per-output-channel epilogue a forward convolution may apply while writing its output (ConvEpilogue;
/// the CPU kernels take it, the CUDA backend does not).
#pragma once

#include <cstdint>

#include "ichseg/config.hpp"

namespace ichseg {

/// Input N x C x H x W, weights K x C x R x S, output N x K x P x Q with P = (H + 2 pad_h - R) / stride_h + 1.
struct Conv2dGeometry {
    int64_t N, C, H, W, K, R, S, P, Q, stride_h, stride_w, pad_h, pad_w;

    /// The reduction length of one output: C R S.
    ICHSEG_HOST_DEVICE int64_t kdim() const { return C * R * S; }
    /// A 1x1 convolution with stride 1 and no padding (a plain GEMM on the input).
    ICHSEG_HOST_DEVICE bool is_pointwise() const {
        return R == 1 && S == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
    }
    ICHSEG_HOST_DEVICE int64_t input_numel() const { return N * C * H * W; }
    ICHSEG_HOST_DEVICE int64_t weight_numel() const { return K * C * R * S; }
    ICHSEG_HOST_DEVICE int64_t output_numel() const { return N * K * P * Q; }
};

/// What a forward convolution does to each output value as it writes it, per output channel k:
///   y[n,k,p,q] = act(scale[k] * c + shift[k]),  c = conv(x, w)[n,k,p,q] + b[k] (the plain convolution's output,
///   computed exactly as without an epilogue),  act = max(0, .) when `relu`, the identity otherwise.
/// The inference batch norm that follows a convolution is such an affine map (ops/conv2d.hpp,
/// conv2d_bn_fprop_infer). With `scale` null there is no epilogue: y = c. scale and shift hold K values.
template <class T>
struct ConvEpilogue {
    const T* scale = nullptr;
    const T* shift = nullptr;
    bool relu = false;

    ICHSEG_HOST_DEVICE bool active() const { return scale != nullptr; }
    /// The epilogue of output channels k0, k0 + 1, ... (for kernels that write one channel at a time).
    ICHSEG_HOST_DEVICE ConvEpilogue from(int64_t k0) const {
        return active() ? ConvEpilogue{scale + k0, shift + k0, relu} : *this;
    }
};

}  // namespace ichseg
