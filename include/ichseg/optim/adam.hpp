/// @file adam.hpp
/// @brief Adam with coupled L2 weight decay (torch.optim.Adam(weight_decay=...), single-tensor path) and the
/// per-epoch exponential learning-rate decay (torch.optim.lr_scheduler.ExponentialLR).
///
/// Per parameter, with g the gradient and t the step count:
///   g <- g + wd * p;  m <- m + (1 - b1)(g - m);  v <- b2 v + (1 - b2) g^2
///   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
/// Parameters without a gradient (frozen or unused) are skipped, as in PyTorch.
/// `adam_update` is the tensor-level update of one parameter (either device; kernels: cpu/adam.hpp,
/// cuda/adam.hpp); `Adam::step` computes the step's scalars (params/adam.hpp) and calls it per parameter.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "ichseg/autograd/variable.hpp"
#include "ichseg/cpu/adam.hpp"
#include "ichseg/ops/common.hpp"
#include "ichseg/params/adam.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/adam.hpp"
#endif

namespace ichseg::optim {

struct AdamParams {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;  ///< coupled L2 (added to the gradient)
};

/// p, m, v updated in place from the gradient g with the step's scalars; all four on one device, same shape,
/// p, m and v contiguous (the moments are created by Adam::step on the parameter's device).
template <class T>
void adam_update(Tensor<T>& p, const Tensor<T>& g, Tensor<T>& m, Tensor<T>& v, const AdamStep<T>& s) {
    const char* op = "adam_update";
    ICHSEG_CHECK(p.defined() && g.defined() && m.defined() && v.defined(), op, ": undefined argument");
    ICHSEG_CHECK(g.shape() == p.shape() && m.shape() == p.shape() && v.shape() == p.shape(), op, ": parameter ",
                 describe(p), ", gradient ", describe(g), " and moments ", describe(m), ", ", describe(v),
                 " must have one shape");
    ICHSEG_CHECK(p.is_contiguous() && m.is_contiguous() && v.is_contiguous(), op, ": parameter ", describe(p),
                 " and its moments must be contiguous");
    const Device dev = detail::op_device(op, {&p, &g, &m, &v});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(s)))
        return cuda::adam_update(p, g, m, v, s);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(s));
    const Tensor<T> gc = g.contiguous();
    cpu::adam_update(p.numel(), p.data(), gc.data(), m.data(), v.data(), s);
}

template <class T = float>
class Adam {
public:
    Adam(std::vector<Var<T>> params, AdamParams p = {}) : params_(std::move(params)), p_(p) {
        ICHSEG_CHECK(p.lr >= 0 && p.beta1 >= 0 && p.beta1 < 1 && p.beta2 >= 0 && p.beta2 < 1 && p.eps >= 0 &&
                         p.weight_decay >= 0,
                     "Adam: invalid hyper-parameters (lr ", p.lr, ", betas ", p.beta1, "/", p.beta2, ", eps ", p.eps,
                     ", weight decay ", p.weight_decay, ")");
        state_.resize(params_.size());
    }

    void step() {
        NoGradGuard guard;
        for (size_t k = 0; k < params_.size(); ++k) {
            Var<T>& prm = params_[k];
            if (!prm.requires_grad() || !prm.grad().defined()) continue;
            State& s = state_[k];
            Tensor<T>& p = prm.mutable_value();
            if (!s.m.defined() || s.m.device() != p.device()) {
                s.m = s.m.defined() ? s.m.to(p.device()) : Tensor<T>::zeros(p.shape(), p.device());
                s.v = s.v.defined() ? s.v.to(p.device()) : Tensor<T>::zeros(p.shape(), p.device());
            }
            ++s.step;
            const double bc1 = 1.0 - std::pow(p_.beta1, static_cast<double>(s.step));
            const double bc2 = 1.0 - std::pow(p_.beta2, static_cast<double>(s.step));
            // 1 - beta in double, then rounded (as PyTorch passes them): 1 - float(0.999) would be 1.3e-5 off.
            const AdamStep<T> step{static_cast<T>(1.0 - p_.beta1), static_cast<T>(p_.beta2),
                                   static_cast<T>(1.0 - p_.beta2), static_cast<T>(p_.weight_decay),
                                   static_cast<T>(p_.lr / bc1),    static_cast<T>(std::sqrt(bc2)),
                                   static_cast<T>(p_.eps)};
            adam_update(p, prm.grad(), s.m, s.v, step);
        }
    }

    void zero_grad() {
        for (auto& p : params_) p.zero_grad();
    }
    double lr() const { return p_.lr; }
    void set_lr(double lr) { p_.lr = lr; }
    const AdamParams& params() const { return p_; }

    /// Optimiser state for checkpoints: per parameter index, the step count and moment tensors.
    struct State {
        int64_t step = 0;
        Tensor<T> m, v;
    };
    std::vector<State>& state() { return state_; }
    const std::vector<Var<T>>& parameters() const { return params_; }

private:
    std::vector<Var<T>> params_;
    AdamParams p_;
    std::vector<State> state_;
};

/// lr <- lr * gamma at every step() (call once per epoch; the paper uses gamma = 0.96).
template <class T = float>
class ExponentialLR {
public:
    ExponentialLR(Adam<T>& opt, double gamma) : opt_(opt), gamma_(gamma) {
        ICHSEG_CHECK(gamma > 0, "ExponentialLR: gamma must be positive, got ", gamma);
    }
    void step() { opt_.set_lr(opt_.lr() * gamma_); }

private:
    Adam<T>& opt_;
    double gamma_;
};

}  // namespace ichseg::optim

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::optim {
ICHSEG_EXTERN_TEMPLATE template void adam_update<float>(Tensor<float>&, const Tensor<float>&, Tensor<float>&,
                                                        Tensor<float>&, const AdamStep<float>&);
ICHSEG_EXTERN_TEMPLATE template class Adam<float>;
ICHSEG_EXTERN_TEMPLATE template class ExponentialLR<float>;
}  // namespace ichseg::optim
#endif
