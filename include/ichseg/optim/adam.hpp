/// @file adam.hpp
/// @brief Adam with coupled L2 weight decay (torch.optim.Adam(weight_decay=...), single-tensor path) and the
/// per-epoch exponential learning-rate decay (torch.optim.lr_scheduler.ExponentialLR).
///
/// Per parameter, with g the gradient and t the step count:
///   g <- g + wd * p;  m <- m + (1 - b1)(g - m);  v <- b2 v + (1 - b2) g^2
///   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
/// Parameters without a gradient (frozen or unused) are skipped, as in PyTorch.
#pragma once

#include "ichseg/core/eigen.hpp"
#include <cmath>
#include <string>
#include <vector>

#include "ichseg/autograd/variable.hpp"
#include "ichseg/core/parallel.hpp"
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
#if ICHSEG_WITH_CUDA
            if (p.device().is_cuda()) {
                ++s.step;
                const double bc1 = 1.0 - std::pow(p_.beta1, static_cast<double>(s.step));
                const double bc2 = 1.0 - std::pow(p_.beta2, static_cast<double>(s.step));
                cuda::adam_update(p, prm.grad(), s.m, s.v, static_cast<T>(1.0 - p_.beta1), static_cast<T>(p_.beta2),
                                  static_cast<T>(1.0 - p_.beta2), static_cast<T>(p_.weight_decay),
                                  static_cast<T>(p_.lr / bc1), static_cast<T>(std::sqrt(bc2)), static_cast<T>(p_.eps));
                continue;
            }
#endif
            ICHSEG_CHECK(p.device().is_cpu(), "Adam: parameter on ", p.device().str(),
                         " needs the CUDA backend's Adam kernel");
            const Tensor<T> g = prm.grad().contiguous();
            if (!s.m.defined()) {
                s.m = Tensor<T>::zeros(p.shape());
                s.v = Tensor<T>::zeros(p.shape());
            }
            ++s.step;
            const T b2 = static_cast<T>(p_.beta2), wd = static_cast<T>(p_.weight_decay);
            // 1 - beta in double, then rounded (as PyTorch passes them): 1 - float(0.999) would be 1.3e-5 off.
            const T one_minus_b1 = static_cast<T>(1.0 - p_.beta1), one_minus_b2 = static_cast<T>(1.0 - p_.beta2);
            const double bc1 = 1.0 - std::pow(p_.beta1, static_cast<double>(s.step));
            const double bc2 = 1.0 - std::pow(p_.beta2, static_cast<double>(s.step));
            const T step_size = static_cast<T>(p_.lr / bc1), bc2_sqrt = static_cast<T>(std::sqrt(bc2));
            const T eps = static_cast<T>(p_.eps);
            T* pd = p.data();
            T* m = s.m.data();
            T* v = s.v.data();
            const T* gd = g.data();
            // Eigen arrays, not a scalar loop: GCC does not vectorise std::sqrt unless the user compiles with
            // -fno-math-errno, and the scalar sqrt and divisions made this loop 6x slower. Same operations, same
            // order; Eigen's packet sqrt and division are correctly rounded like the scalar ones.
            using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
            parallel_for((p.numel() + kBlock - 1) / kBlock, [&](int64_t blk) {
                const int64_t lo = blk * kBlock, len = std::min<int64_t>(p.numel() - lo, kBlock);
                Eigen::Map<Array> P(pd + lo, len), M(m + lo, len), V(v + lo, len);
                T g_buf[kBlock];
                Eigen::Map<Array> G(g_buf, len);
                if (wd != T(0))
                    G = Eigen::Map<const Array>(gd + lo, len) + wd * P;
                else
                    G = Eigen::Map<const Array>(gd + lo, len);
                M += one_minus_b1 * (G - M);
                V = V * b2 + one_minus_b2 * G * G;
                P -= step_size * (M / (V.sqrt() / bc2_sqrt + eps));
            });
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
    static constexpr int64_t kBlock = 4096;  ///< elements per parallel task of the CPU update
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
