/// @file conv_transpose2d.hpp (nn)
/// @brief nn::ConvTranspose2d: "weight" (in, out, k, k) as in PyTorch, "bias" (out). PyTorch computes the
/// default-init fan-in of a transposed conv from weight dimension 1, i.e. out * k * k.
#pragma once

#include "ichseg/nn/init.hpp"
#include "ichseg/nn/module.hpp"
#include "ichseg/ops/conv_transpose2d.hpp"

namespace ichseg::nn {

template <class T = float>
class ConvTranspose2d : public Module<T> {
public:
    ConvTranspose2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool bias = true,
                    Generator& gen = default_generator())
        : params_{stride, stride, 0, 0, 0, 0} {
        ICHSEG_CHECK(in > 0 && out > 0 && kernel > 0 && stride > 0, "nn::ConvTranspose2d: invalid sizes in=", in,
                     " out=", out, " kernel=", kernel, " stride=", stride);
        const double bound = default_init_bound(out * kernel * kernel);
        weight = this->register_parameter("weight", uniform_tensor<T>({in, out, kernel, kernel}, bound, gen));
        if (bias) this->bias = this->register_parameter("bias", uniform_tensor<T>({out}, bound, gen));
    }
    Var<T> forward(const Var<T>& x) override { return conv_transpose2d(x, weight, bias, params_); }
    std::string type_name() const override { return "ConvTranspose2d"; }

    Var<T> weight, bias;

private:
    ConvTranspose2dParams params_;
};

}  // namespace ichseg::nn

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::nn {
ICHSEG_EXTERN_TEMPLATE template class ConvTranspose2d<float>;
}  // namespace ichseg::nn
#endif
