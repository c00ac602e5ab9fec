/// @file softmax.hpp
/// @brief Softmax over the last dimension: y_i = exp(x_i - max) / sum_j exp(x_j - max);
/// dx = y * (dy - sum_j dy_j y_j).
///   softmax_fwd(x) -> y;  softmax_bwd(dy, y) -> dx  (tensor-level, either device);  softmax(Var): the tape node.
/// Kernels: cpu/softmax.hpp, cuda/softmax.hpp (kernels/softmax.cu).
#pragma once

#include "ichseg/cpu/softmax.hpp"
#include "ichseg/ops/common.hpp"
#include "ichseg/params/softmax.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/softmax.hpp"
#endif

namespace ichseg {

/// Rows of the last extent; at least one dimension.
inline SoftmaxGeometry softmax_geometry(const char* op, const Shape& x) {
    ICHSEG_CHECK(!x.empty(), op, ": needs at least one dimension, got ", to_string(x));
    const int64_t K = x.back();
    return {numel(x) / std::max<int64_t>(K, 1), K};
}

template <class T>
Tensor<T> softmax_fwd(const Tensor<T>& x) {
    detail::static_check_float<T>();
    const char* op = "softmax_fwd";
    ICHSEG_CHECK(x.defined(), op, ": input is undefined");
    const SoftmaxGeometry g = softmax_geometry(op, x.shape());
    const Device dev = detail::op_device(op, {&x});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g))) return cuda::softmax_fwd(g, x);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = detail::cpu_input(op, x);
    Tensor<T> y = Tensor<T>::empty(xc.shape());
    cpu::softmax_fwd(g, xc.data(), y.data());
    return y;
}

/// dx = y (dy - sum over the row of dy y); y is softmax_fwd's output.
template <class T>
Tensor<T> softmax_bwd(const Tensor<T>& dy, const Tensor<T>& y) {
    detail::static_check_float<T>();
    const char* op = "softmax_bwd";
    detail::check_same_shape(op, "dy", dy, "y", y);
    const SoftmaxGeometry g = softmax_geometry(op, y.shape());
    const Device dev = detail::op_device(op, {&dy, &y});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g))) return cuda::softmax_bwd(g, dy, y);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> dyc = detail::cpu_input(op, dy), yc = detail::cpu_input(op, y);
    Tensor<T> dx = Tensor<T>::empty(yc.shape());
    cpu::softmax_bwd(g, dyc.data(), yc.data(), dx.data());
    return dx;
}

template <class T>
Var<T> softmax(const Var<T>& x) {
    Tensor<T> y = softmax_fwd(x.value());
    return record<T>("softmax", y, {&x},
                     [y](const Tensor<T>& gy) { return std::vector<Tensor<T>>{softmax_bwd(gy, y)}; });
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> softmax_fwd<float>(const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> softmax_bwd<float>(const Tensor<float>&, const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Var<float> softmax<float>(const Var<float>&);
}  // namespace ichseg
#endif
