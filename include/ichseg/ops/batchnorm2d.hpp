/// @file batchnorm2d.hpp
/// @brief 2-D batch normalisation (torch.nn.BatchNorm2d semantics), with an optional fused ReLU.
///
///   training:  y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta, var_B biased;
///              running <- (1 - momentum) * running + momentum * stat (running_var gets the unbiased var_B)
///   inference: the same with the running statistics.
///   relu:      y = max(0, y), fused so that the pre-ReLU value is never stored.
/// Shapes: x (N,C,H,W), gamma / beta / running stats (C). Derivatives: docs/ops.md.
#pragma once

#include "ichseg/cpu/batchnorm2d.hpp"
#include "ichseg/ops/common.hpp"

namespace ichseg {

struct BatchNorm2dParams {
    double eps = 1e-5;
    double momentum = 0.1;
    bool relu = false;  ///< apply ReLU to the output (fused epilogue)
};

namespace detail {
template <class T>
cpu::BatchNormGeometry bn_geometry(const char* op, const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta) {
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
}  // namespace detail

/// Differentiable batch norm. In training mode the running statistics (if defined) are updated in place;
/// `num_batches_tracked`, when defined, is incremented.
template <class T>
Var<T> batchnorm2d(const Var<T>& x, const Var<T>& gamma, const Var<T>& beta, Tensor<T> running_mean,
                   Tensor<T> running_var, bool training, const BatchNorm2dParams& p = {}) {
    detail::static_check_float<T>();
    const char* op = training ? "batchnorm2d_fwd_train" : "batchnorm2d_fwd_infer";
    const Tensor<T> gv = gamma.defined() ? gamma.value() : Tensor<T>();
    const Tensor<T> bv = beta.defined() ? beta.value() : Tensor<T>();
    auto g = detail::bn_geometry(op, x.value(), gv, bv);
#if ICHSEG_WITH_CUDA
    if (x.device().is_cuda()) return cuda::batchnorm2d(x, gamma, beta, running_mean, running_var, training, p);
#endif
    if (running_mean.defined() || !training) {
        ICHSEG_CHECK(running_mean.defined() && running_var.defined(), op, ": running statistics are required");
        ICHSEG_CHECK(running_mean.numel() == g.C && running_var.numel() == g.C && running_mean.is_contiguous() &&
                         running_var.is_contiguous(),
                     op, ": running statistics must be contiguous (", g.C, "), got ", describe(running_mean), " and ",
                     describe(running_var));
        detail::cpu_input(op, running_mean);
    }
    ICHSEG_CHECK(training || g.N > 0, op, ": empty batch");
    ICHSEG_CHECK(!training || g.N * g.HW > 1, op, ": training needs more than one value per channel, got input ",
                 to_string(x.shape()));
    Tensor<T> xc = detail::cpu_input(op, x.value()), gc = detail::cpu_input(op, gv), bc = detail::cpu_input(op, bv);
    Tensor<T> y = Tensor<T>::empty(xc.shape());
    Tensor<T> mean = Tensor<T>::empty({g.C}), invstd = Tensor<T>::empty({g.C});
    const T* gp = gc.defined() ? gc.data() : nullptr;
    const T* bp = bc.defined() ? bc.data() : nullptr;
    if (training) {
        cpu::batchnorm2d_fwd_train<T>(g, xc.data(), gp, bp, p.eps, p.momentum,
                                      running_mean.defined() ? running_mean.data() : nullptr,
                                      running_var.defined() ? running_var.data() : nullptr, y.data(), mean.data(),
                                      invstd.data(), p.relu);
    } else {
        cpu::batchnorm2d_fwd_infer<T>(g, xc.data(), gp, bp, p.eps, running_mean.data(), running_var.data(), y.data(),
                                      p.relu);
        for (int64_t c = 0; c < g.C; ++c) {
            mean.data()[c] = running_mean.data()[c];
            invstd.data()[c] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(running_var.data()[c]) + p.eps));
        }
    }
    Tensor<T> ys = p.relu ? y : Tensor<T>();
    return record<T>("batchnorm2d", y, {&x, &gamma, &beta},
                     [xc, ys, gc, mean, invstd, g, training, p](const Tensor<T>& gy_in) {
                         Tensor<T> gy = detail::cpu_input("batchnorm2d_bwd", gy_in);
                         Tensor<T> dx = Tensor<T>::empty(xc.shape());
                         Tensor<T> dgamma = Tensor<T>::empty({g.C}), dbeta = Tensor<T>::empty({g.C});
                         cpu::batchnorm2d_bwd<T>(g, gy.data(), xc.data(), ys.defined() ? ys.data() : nullptr,
                                                 gc.defined() ? gc.data() : nullptr, mean.data(), invstd.data(),
                                                 training, p.relu, dx.data(), dgamma.data(), dbeta.data());
                         return std::vector<Tensor<T>>{dx, dgamma, dbeta};
                     });
}

}  // namespace ichseg
