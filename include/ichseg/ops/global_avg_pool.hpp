/// @file global_avg_pool.hpp
/// @brief Global average pooling: x (N,C,H,W) -> y (N,C) = mean over H, W; dx = dy / (H W) broadcast.
///   global_avg_pool_fwd(x) -> y;  global_avg_pool_bwd(dy, x_shape) -> dx  (tensor-level, either device);
///   global_avg_pool(Var): the tape node.  Kernels: cpu/global_avg_pool.hpp, cuda/global_avg_pool.hpp.
#pragma once

#include "ichseg/cpu/global_avg_pool.hpp"
#include "ichseg/ops/common.hpp"
#include "ichseg/params/global_avg_pool.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/global_avg_pool.hpp"
#endif

namespace ichseg {

/// Validates x's shape (N, C, H, W) with H W > 0.
inline GlobalPoolGeometry global_avg_pool_geometry(const char* op, const Shape& x) {
    ICHSEG_CHECK(x.size() == 4, op, ": input must be (N,C,H,W), got ", to_string(x));
    ICHSEG_CHECK(x[2] * x[3] > 0, op, ": empty spatial extent in ", to_string(x));
    return {x[0] * x[1], x[2] * x[3]};
}

template <class T>
Tensor<T> global_avg_pool_fwd(const Tensor<T>& x) {
    detail::static_check_float<T>();
    const char* op = "global_avg_pool_fwd";
    detail::check_rank(op, "input", x, 4);
    const GlobalPoolGeometry g = global_avg_pool_geometry(op, x.shape());
    const Device dev = detail::op_device(op, {&x});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return cuda::global_avg_pool_fwd(g, x);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = detail::cpu_input(op, x);
    Tensor<T> y = Tensor<T>::empty({x.size(0), x.size(1)});
    cpu::global_avg_pool_fwd(g, xc.data(), y.data());
    return y;
}

/// dx (x_shape) = dy (N, C) / (H W), broadcast over each plane.
template <class T>
Tensor<T> global_avg_pool_bwd(const Tensor<T>& dy, const Shape& x_shape) {
    detail::static_check_float<T>();
    const char* op = "global_avg_pool_bwd";
    const GlobalPoolGeometry g = global_avg_pool_geometry(op, x_shape);
    ICHSEG_CHECK(dy.defined() && dy.shape() == Shape({x_shape[0], x_shape[1]}), op, ": dy ", describe(dy),
                 " does not match the output shape ", to_string(Shape{x_shape[0], x_shape[1]}));
    const Device dev = detail::op_device(op, {&dy});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return cuda::global_avg_pool_bwd(g, dy, x_shape);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> dyc = detail::cpu_input(op, dy);
    Tensor<T> dx = Tensor<T>::empty(x_shape);
    cpu::global_avg_pool_bwd(g, dyc.data(), dx.data());
    return dx;
}

template <class T>
Var<T> global_avg_pool(const Var<T>& x) {
    Tensor<T> y = global_avg_pool_fwd(x.value());
    const Shape xs = x.shape();
    return record<T>("global_avg_pool", y, {&x},
                     [xs](const Tensor<T>& gy) { return std::vector<Tensor<T>>{global_avg_pool_bwd(gy, xs)}; });
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> global_avg_pool_fwd<float>(const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> global_avg_pool_bwd<float>(const Tensor<float>&, const Shape&);
ICHSEG_EXTERN_TEMPLATE template Var<float> global_avg_pool<float>(const Var<float>&);
}  // namespace ichseg
#endif
