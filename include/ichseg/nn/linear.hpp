/// @file linear.hpp (nn)
/// @brief nn::Linear: "weight" (out, in), "bias" (out), PyTorch default initialisation (fan-in = in).
#pragma once

#include "ichseg/nn/init.hpp"
#include "ichseg/nn/module.hpp"
#include "ichseg/ops/linear.hpp"

namespace ichseg::nn {

template <class T = float>
class Linear : public Module<T> {
public:
    Linear(int64_t in, int64_t out, bool bias = true, Generator& gen = default_generator()) {
        ICHSEG_CHECK(in > 0 && out > 0, "nn::Linear: invalid sizes in=", in, " out=", out);
        const double bound = default_init_bound(in);
        weight = this->register_parameter("weight", uniform_tensor<T>({out, in}, bound, gen));
        if (bias) this->bias = this->register_parameter("bias", uniform_tensor<T>({out}, bound, gen));
    }
    Var<T> forward(const Var<T>& x) override { return linear(x, weight, bias); }
    std::string type_name() const override { return "Linear"; }

    Var<T> weight, bias;
};

}  // namespace ichseg::nn

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::nn {
ICHSEG_EXTERN_TEMPLATE template class Linear<float>;
}  // namespace ichseg::nn
#endif
