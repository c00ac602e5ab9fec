/// @file batchnorm2d.hpp (nn)
/// @brief nn::BatchNorm2d: "weight" (gamma = 1), "bias" (beta = 0), buffers "running_mean" (0),
/// "running_var" (1) and "num_batches_tracked" (written as I64, as PyTorch does). Uses batch statistics in
/// training mode and running statistics in evaluation mode. forward_relu() fuses the following ReLU.
#pragma once

#include "ichseg/nn/module.hpp"
#include "ichseg/ops/batchnorm2d.hpp"

namespace ichseg::nn {

template <class T = float>
class BatchNorm2d : public Module<T> {
public:
    explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1) : eps_(eps), momentum_(momentum) {
        ICHSEG_CHECK(channels > 0, "nn::BatchNorm2d: invalid channel count ", channels);
        weight = this->register_parameter("weight", Tensor<T>::full({channels}, T(1)));
        bias = this->register_parameter("bias", Tensor<T>::zeros({channels}));
        running_mean = Tensor<T>::zeros({channels});
        running_var = Tensor<T>::full({channels}, T(1));
        num_batches_tracked = Tensor<T>::zeros({});
        this->register_buffer("running_mean", &running_mean);
        this->register_buffer("running_var", &running_var);
        this->register_buffer("num_batches_tracked", &num_batches_tracked, "I64");
    }
    Var<T> forward(const Var<T>& x) override { return run(x, false); }
    /// relu(bn(x)) in one pass.
    Var<T> forward_relu(const Var<T>& x) { return run(x, true); }
    std::string type_name() const override { return "BatchNorm2d"; }
    /// eps, momentum and whether a ReLU follows, as the forward passes them to the op.
    BatchNorm2dParams params(bool relu) const { return {eps_, momentum_, relu}; }

    Var<T> weight, bias;
    Tensor<T> running_mean, running_var, num_batches_tracked;

private:
    double eps_, momentum_;
    Var<T> run(const Var<T>& x, bool relu) {
        const bool training = this->is_training();
        Var<T> y = batchnorm2d(x, weight, bias, running_mean, running_var, training, {eps_, momentum_, relu});
        if (training) num_batches_tracked.data()[0] += T(1);  // counted only once the forward succeeded
        return y;
    }
};

}  // namespace ichseg::nn

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::nn {
ICHSEG_EXTERN_TEMPLATE template class BatchNorm2d<float>;
}  // namespace ichseg::nn
#endif
