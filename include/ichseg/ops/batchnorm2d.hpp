/// @file batchnorm2d.hpp
/// @brief 2-D batch normalisation (torch.nn.BatchNorm2d semantics), with an optional fused ReLU.
///
///   training:  y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta, var_B biased;
///              running <- (1 - momentum) * running + momentum * stat (running_var gets the unbiased var_B)
///   inference: the same with the running statistics.
///   relu:      y = max(0, y), fused so that the pre-ReLU value is never stored.
/// Shapes: x (N,C,H,W), gamma / beta / running stats (C). Derivatives: docs/ops.md.
///   batchnorm2d_fwd_train / batchnorm2d_fwd_infer(x, gamma, beta, running_mean, running_var, p)
///       -> {y, save_mean, save_invstd} (the statistics the backward pass reads);
///   batchnorm2d_bwd(dy, x, y, gamma, save_mean, save_invstd, training, p) -> {dx, dgamma, dbeta}
///   (tensor-level, either device);  batchnorm2d(Var...): the tape node.
/// Kernels: cpu/batchnorm2d.hpp, cuda/batchnorm2d.hpp (kernels/batchnorm2d.cu). Sizes and scalars both backends
/// take: params/batchnorm2d.hpp (BatchNorm2dParams: eps, momentum, relu).
#pragma once

#include <tuple>

#include "ichseg/cpu/batchnorm2d.hpp"
#include "ichseg/ops/common.hpp"
#include "ichseg/params/batchnorm2d.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/batchnorm2d.hpp"
#endif

namespace ichseg {

/// The forward output and the per-channel statistics it used (batch ones in training, running ones in inference).
template <class T>
struct BatchNorm2dForward {
    Tensor<T> y, save_mean, save_invstd;
};
template <class T>
struct BatchNorm2dGrads {
    Tensor<T> dx, dgamma, dbeta;
};

namespace detail {
/// {a, b, c} from the CUDA launchers' tuples.
template <class S, class T>
S from_tuple(const std::tuple<Tensor<T>, Tensor<T>, Tensor<T>>& t) {
    return {std::get<0>(t), std::get<1>(t), std::get<2>(t)};
}
/// Validates x (N, C, H, W) and the optional per-channel vectors; the sizes both backends take.
template <class T>
BatchNorm2dGeometry bn_geometry(const char* op, const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta) {
    check_rank(op, "input", x, 4);
    const int64_t C = x.size(1);
    auto check_vec = [&](const char* name, const Tensor<T>& v) {
        if (v.defined())
            ICHSEG_CHECK(v.dim() == 1 && v.size(0) == C, op, ": ", name, " must be (", C, ") for input ",
                         to_string(x.shape()), ", got ", describe(v));
    };
    check_vec("weight", gamma);
    check_vec("bias", beta);
    return {x.size(0), C, x.size(2) * x.size(3)};
}
/// Running statistics: both defined (or, when `required` is false, both may be undefined), contiguous (C).
template <class T>
void bn_check_running(const char* op, const BatchNorm2dGeometry& g, const Tensor<T>& rm, const Tensor<T>& rv,
                      bool required) {
    if (!required && !rm.defined() && !rv.defined()) return;
    ICHSEG_CHECK(rm.defined() && rv.defined(), op, ": running statistics are required");
    ICHSEG_CHECK(rm.numel() == g.C && rv.numel() == g.C && rm.is_contiguous() && rv.is_contiguous(), op,
                 ": running statistics must be contiguous (", g.C, "), got ", describe(rm), " and ", describe(rv));
}
}  // namespace detail

/// Training forward; the running statistics, when defined, are updated in place.
template <class T>
BatchNorm2dForward<T> batchnorm2d_fwd_train(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta,
                                            Tensor<T> running_mean, Tensor<T> running_var,
                                            const BatchNorm2dParams& p = {}) {
    detail::static_check_float<T>();
    const char* op = "batchnorm2d_fwd_train";
    const BatchNorm2dGeometry g = detail::bn_geometry(op, x, gamma, beta);
    detail::bn_check_running(op, g, running_mean, running_var, false);
    ICHSEG_CHECK(g.N * g.HW > 1, op, ": training needs more than one value per channel, got input ",
                 to_string(x.shape()));
    const Device dev = detail::op_device(op, {&x, &gamma, &beta, &running_mean, &running_var});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return detail::from_tuple<BatchNorm2dForward<T>>(
            cuda::batchnorm2d_fwd_train(g, p, x, gamma, beta, running_mean, running_var));
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = detail::cpu_input(op, x), gc = detail::cpu_input(op, gamma), bc = detail::cpu_input(op, beta);
    BatchNorm2dForward<T> r{Tensor<T>::empty(xc.shape()), Tensor<T>::empty({g.C}), Tensor<T>::empty({g.C})};
    cpu::batchnorm2d_fwd_train<T>(g, xc.data(), gc.defined() ? gc.data() : nullptr, bc.defined() ? bc.data() : nullptr,
                                  p.eps, p.momentum, running_mean.defined() ? running_mean.data() : nullptr,
                                  running_var.defined() ? running_var.data() : nullptr, r.y.data(), r.save_mean.data(),
                                  r.save_invstd.data(), p.relu);
    return r;
}

/// Inference forward with the running statistics (required).
template <class T>
BatchNorm2dForward<T> batchnorm2d_fwd_infer(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta,
                                            const Tensor<T>& running_mean, const Tensor<T>& running_var,
                                            const BatchNorm2dParams& p = {}) {
    detail::static_check_float<T>();
    const char* op = "batchnorm2d_fwd_infer";
    const BatchNorm2dGeometry g = detail::bn_geometry(op, x, gamma, beta);
    detail::bn_check_running(op, g, running_mean, running_var, true);
    ICHSEG_CHECK(g.N > 0, op, ": empty batch");
    const Device dev = detail::op_device(op, {&x, &gamma, &beta, &running_mean, &running_var});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return detail::from_tuple<BatchNorm2dForward<T>>(
            cuda::batchnorm2d_fwd_infer(g, p, x, gamma, beta, running_mean, running_var));
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> xc = detail::cpu_input(op, x), gc = detail::cpu_input(op, gamma), bc = detail::cpu_input(op, beta);
    BatchNorm2dForward<T> r{Tensor<T>::empty(xc.shape()), Tensor<T>::empty({g.C}), Tensor<T>::empty({g.C})};
    cpu::batchnorm2d_fwd_infer<T>(g, xc.data(), gc.defined() ? gc.data() : nullptr, bc.defined() ? bc.data() : nullptr,
                                  p.eps, running_mean.data(), running_var.data(), r.y.data(), p.relu);
    cpu::batchnorm2d_infer_stats<T>(g.C, running_mean.data(), running_var.data(), p.eps, r.save_mean.data(),
                                    r.save_invstd.data());
    return r;
}

/// dL/dx, dL/dgamma, dL/dbeta. `y` (the forward output) is read only when p.relu (the mask y > 0); save_mean and
/// save_invstd are the statistics the forward returned; `training` selects the full derivative through the batch
/// statistics.
template <class T>
BatchNorm2dGrads<T> batchnorm2d_bwd(const Tensor<T>& dy, const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& gamma,
                                    const Tensor<T>& save_mean, const Tensor<T>& save_invstd, bool training,
                                    const BatchNorm2dParams& p = {}) {
    detail::static_check_float<T>();
    const char* op = "batchnorm2d_bwd";
    const BatchNorm2dGeometry g = detail::bn_geometry(op, x, gamma, Tensor<T>());
    detail::check_same_shape(op, "dy", dy, "input", x);
    if (p.relu) detail::check_same_shape(op, "y", y, "input", x);
    ICHSEG_CHECK(save_mean.defined() && save_invstd.defined() && save_mean.numel() == g.C && save_invstd.numel() == g.C,
                 op, ": saved statistics must be (", g.C, "), got ", describe(save_mean), " and ",
                 describe(save_invstd));
    const Tensor<T> ys = p.relu ? y : Tensor<T>();
    const Device dev = detail::op_device(op, {&dy, &x, &ys, &gamma, &save_mean, &save_invstd});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return detail::from_tuple<BatchNorm2dGrads<T>>(
            cuda::batchnorm2d_bwd(g, p, dy, x, ys, gamma, save_mean, save_invstd, training));
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> dyc = detail::cpu_input(op, dy), xc = detail::cpu_input(op, x), yc = detail::cpu_input(op, ys),
                    gc = detail::cpu_input(op, gamma), mc = detail::cpu_input(op, save_mean),
                    ic = detail::cpu_input(op, save_invstd);
    BatchNorm2dGrads<T> r{Tensor<T>::empty(xc.shape()), Tensor<T>::empty({g.C}), Tensor<T>::empty({g.C})};
    cpu::batchnorm2d_bwd<T>(g, dyc.data(), xc.data(), yc.defined() ? yc.data() : nullptr,
                            gc.defined() ? gc.data() : nullptr, mc.data(), ic.data(), training, p.relu, r.dx.data(),
                            r.dgamma.data(), r.dbeta.data());
    return r;
}

/// Differentiable batch norm. In training mode the running statistics (if defined) are updated in place.
template <class T>
Var<T> batchnorm2d(const Var<T>& x, const Var<T>& gamma, const Var<T>& beta, Tensor<T> running_mean,
                   Tensor<T> running_var, bool training, const BatchNorm2dParams& p = {}) {
    const Tensor<T> gv = gamma.defined() ? gamma.value() : Tensor<T>();
    const Tensor<T> bv = beta.defined() ? beta.value() : Tensor<T>();
    BatchNorm2dForward<T> f = training ? batchnorm2d_fwd_train(x.value(), gv, bv, running_mean, running_var, p)
                                       : batchnorm2d_fwd_infer(x.value(), gv, bv, running_mean, running_var, p);
    const Tensor<T> xs = x.value(), ys = p.relu ? f.y : Tensor<T>(), mean = f.save_mean, invstd = f.save_invstd;
    return record<T>("batchnorm2d", f.y, {&x, &gamma, &beta},
                     [xs, ys, gv, mean, invstd, training, p](const Tensor<T>& gy) {
                         BatchNorm2dGrads<T> d = batchnorm2d_bwd(gy, xs, ys, gv, mean, invstd, training, p);
                         return std::vector<Tensor<T>>{d.dx, d.dgamma, d.dbeta};
                     });
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template BatchNorm2dForward<float> batchnorm2d_fwd_train<float>(const Tensor<float>&,
                                                                                       const Tensor<float>&,
                                                                                       const Tensor<float>&,
                                                                                       Tensor<float>, Tensor<float>,
                                                                                       const BatchNorm2dParams&);
ICHSEG_EXTERN_TEMPLATE template BatchNorm2dForward<float> batchnorm2d_fwd_infer<float>(
    const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&,
    const BatchNorm2dParams&);
ICHSEG_EXTERN_TEMPLATE template BatchNorm2dGrads<float> batchnorm2d_bwd<float>(
    const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&,
    const Tensor<float>&, bool, const BatchNorm2dParams&);
ICHSEG_EXTERN_TEMPLATE template Var<float> batchnorm2d<float>(const Var<float>&, const Var<float>&, const Var<float>&,
                                                              Tensor<float>, Tensor<float>, bool,
                                                              const BatchNorm2dParams&);
}  // namespace ichseg
#endif
