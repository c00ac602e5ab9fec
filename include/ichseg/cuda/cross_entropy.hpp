/// @file cross_entropy.hpp (cuda)
/// @brief CUDA fused softmax cross-entropy (contract and formulas: loss/cross_entropy.hpp): the tensor-level
/// launcher that loss/cross_entropy.hpp dispatches to for CUDA tensors, its supports() and the launch::
/// declaration (kernels/cross_entropy.cu). One warp per row; row losses added on the host in order.
#pragma once

#include <utility>

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/cross_entropy.hpp"

namespace ichseg::cuda {

namespace launch {
/// x (B x K), labels (B) on the device, already validated; writes grad; returns the mean loss.
double cross_entropy_loss_value_and_grad(const CrossEntropyGeometry& g, const float* x, const int64_t* labels,
                                         float* grad);
}  // namespace launch

/// float, K within 32-bit range (a row's logits indexed with int, the row offset 64-bit) and 32 B threads
/// within 32-bit thread numbering (one warp per row).
template <class T>
Support supports(const CrossEntropyGeometry& g) {
    return all_of(supports_dtype<T>(), supports_elements({g.K, 32 * g.B}));
}

/// {loss, dL/dlogits}; labels (B) on the same device, validated by the caller.
template <class T>
std::pair<double, Tensor<T>> cross_entropy_loss_value_and_grad(const CrossEntropyGeometry& g, const Tensor<T>& x_in,
                                                               const Tensor<int64_t>& labels_in) {
    const char* op = "cross_entropy_loss";
    detail::require_float<T>(op);
    const Device dev = x_in.device();
    const Tensor<T> x = detail::device_input(op, x_in, dev);
    const Tensor<int64_t> labels = detail::device_input(op, labels_in, dev);
    Tensor<T> grad = Tensor<T>::empty(x.shape(), dev);
    double v = 0;
    if constexpr (std::is_same_v<T, float>)
        v = launch::cross_entropy_loss_value_and_grad(g, x.data(), labels.data(), grad.data());
    return {v, grad};
}

}  // namespace ichseg::cuda
