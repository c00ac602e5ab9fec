/// @file max_pool2d.hpp
/// @brief 2-D max pooling, no padding (torch.nn.functional.max_pool2d with padding 0, floor mode).
/// x (N,C,H,W) -> y (N,C,(H-k)/s+1,(W-k)/s+1); the gradient goes to the first maximum of each window
/// (row-major window order, NaN wins), and overlapping windows add.
///   max_pool2d_fwd(x, p) -> y;  max_pool2d_bwd(dy, x, p) -> dx (the argmax recomputed from x, no indices stored);
///   max_pool2d(Var): the tape node.  Kernels: cpu/max_pool2d.hpp, cuda/max_pool2d.hpp (kernels/max_pool2d.cu).
#pragma once

#include "ichseg/cpu/max_pool2d.hpp"
#include "ichseg/ops/common.hpp"
#include "ichseg/params/max_pool2d.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/max_pool2d.hpp"
#endif

namespace ichseg {

struct MaxPool2dParams {
    int64_t kernel = 2, stride = 2;
};

/// Validates the input shape and parameters; the geometry both backends take.
inline Pool2dGeometry max_pool2d_geometry(const Shape& x, const MaxPool2dParams& p) {
    ICHSEG_CHECK(x.size() == 4, "max_pool2d: input must be (N,C,H,W), got ", to_string(x));
    ICHSEG_CHECK(p.kernel >= 1 && p.stride >= 1, "max_pool2d: invalid kernel ", p.kernel, " or stride ", p.stride);
    ICHSEG_CHECK(x[2] >= p.kernel && x[3] >= p.kernel, "max_pool2d: input ", to_string(x), " smaller than kernel ",
                 p.kernel);
    const int64_t P = (x[2] - p.kernel) / p.stride + 1, Q = (x[3] - p.kernel) / p.stride + 1;
    return {x[0], x[1], x[2], x[3], p.kernel, p.kernel, p.stride, p.stride, P, Q};
}

template <class T>
Tensor<T> max_pool2d_fwd(const Tensor<T>& x, const MaxPool2dParams& p = {}) {
    detail::static_check_float<T>();
    const char* op = "max_pool2d_fwd";
    detail::check_rank(op, "input", x, 4);
    const Pool2dGeometry g = max_pool2d_geometry(x.shape(), p);
    const Device dev = detail::op_device(op, {&x});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g))) return cuda::max_pool2d_fwd(g, x);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = detail::cpu_input(op, x);
    Tensor<T> y = Tensor<T>::empty({g.N, g.C, g.P, g.Q});
    cpu::max_pool2d_fwd(g, xc.data(), y.data());
    return y;
}

/// dx: dy added at the first maximum of each window of x, zero elsewhere.
template <class T>
Tensor<T> max_pool2d_bwd(const Tensor<T>& dy, const Tensor<T>& x, const MaxPool2dParams& p = {}) {
    detail::static_check_float<T>();
    const char* op = "max_pool2d_bwd";
    detail::check_rank(op, "input", x, 4);
    const Pool2dGeometry g = max_pool2d_geometry(x.shape(), p);
    ICHSEG_CHECK(dy.defined() && dy.shape() == Shape({g.N, g.C, g.P, g.Q}), op, ": dy ", describe(dy),
                 " does not match the output shape ", to_string(Shape{g.N, g.C, g.P, g.Q}));
    const Device dev = detail::op_device(op, {&dy, &x});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return cuda::max_pool2d_bwd(g, dy, x);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> dyc = detail::cpu_input(op, dy), xc = detail::cpu_input(op, x);
    Tensor<T> dx = Tensor<T>::empty(xc.shape());
    cpu::max_pool2d_bwd(g, dyc.data(), xc.data(), dx.data());
    return dx;
}

template <class T>
Var<T> max_pool2d(const Var<T>& x, const MaxPool2dParams& p = {}) {
    Tensor<T> y = max_pool2d_fwd(x.value(), p);
    Tensor<T> xs = x.requires_grad() ? x.value() : Tensor<T>();
    return record<T>("max_pool2d", y, {&x},
                     [xs, p](const Tensor<T>& gy) { return std::vector<Tensor<T>>{max_pool2d_bwd(gy, xs, p)}; });
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> max_pool2d_fwd<float>(const Tensor<float>&, const MaxPool2dParams&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> max_pool2d_bwd<float>(const Tensor<float>&, const Tensor<float>&,
                                                                    const MaxPool2dParams&);
ICHSEG_EXTERN_TEMPLATE template Var<float> max_pool2d<float>(const Var<float>&, const MaxPool2dParams&);
}  // namespace ichseg
#endif
