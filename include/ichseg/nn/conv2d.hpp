/// @file conv2d.hpp (nn)
/// @brief nn::Conv2d: parameters "weight" (out, in, k, k) and "bias" (out), PyTorch default initialisation.
#pragma once

#include "ichseg/nn/init.hpp"
#include "ichseg/nn/module.hpp"
#include "ichseg/ops/conv2d.hpp"

namespace ichseg::nn {

template <class T = float>
class Conv2d : public Module<T> {
public:
    Conv2d(int64_t in, int64_t out, int64_t kernel, Conv2dParams p = {}, bool bias = true,
           Generator& gen = default_generator())
        : params_(p) {
        ICHSEG_CHECK(in > 0 && out > 0 && kernel > 0, "nn::Conv2d: invalid sizes in=", in, " out=", out,
                     " kernel=", kernel);
        const double bound = default_init_bound(in * kernel * kernel);
        weight = this->register_parameter("weight", uniform_tensor<T>({out, in, kernel, kernel}, bound, gen));
        if (bias) this->bias = this->register_parameter("bias", uniform_tensor<T>({out}, bound, gen));
    }
    Var<T> forward(const Var<T>& x) override { return conv2d(x, weight, bias, params_); }
    std::string type_name() const override { return "Conv2d"; }
    const Conv2dParams& params() const { return params_; }

    Var<T> weight, bias;

private:
    Conv2dParams params_;
};

}  // namespace ichseg::nn

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::nn {
ICHSEG_EXTERN_TEMPLATE template class Conv2d<float>;
}  // namespace ichseg::nn
#endif
