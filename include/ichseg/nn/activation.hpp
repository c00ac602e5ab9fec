/// @file activation.hpp (nn)
/// @brief Parameter-free modules: ReLU, Sigmoid, Dropout, Identity. They hold no state in a checkpoint but
/// take their index in a Sequential, exactly as in PyTorch (so "head.2.weight" follows a ReLU at "head.1").
#pragma once

#include "ichseg/nn/module.hpp"
#include "ichseg/ops/dropout.hpp"
#include "ichseg/ops/relu.hpp"
#include "ichseg/ops/sigmoid.hpp"

namespace ichseg::nn {

template <class T = float>
class ReLU : public Module<T> {
public:
    Var<T> forward(const Var<T>& x) override { return relu(x); }
    std::string type_name() const override { return "ReLU"; }
};

template <class T = float>
class Sigmoid : public Module<T> {
public:
    Var<T> forward(const Var<T>& x) override { return sigmoid(x); }
    std::string type_name() const override { return "Sigmoid"; }
};

template <class T = float>
class Identity : public Module<T> {
public:
    Var<T> forward(const Var<T>& x) override { return x; }
    std::string type_name() const override { return "Identity"; }
};

/// Element-wise dropout with its own generator (seeded from `gen` at construction).
template <class T = float>
class Dropout : public Module<T> {
public:
    explicit Dropout(double p, Generator& gen = default_generator()) : p_(p), gen_(gen.next_stream() ^ gen.seed()) {
        ICHSEG_CHECK(p >= 0.0 && p < 1.0, "nn::Dropout: probability must be in [0, 1), got ", p);
    }
    Var<T> forward(const Var<T>& x) override { return dropout(x, p_, this->is_training(), gen_); }
    std::string type_name() const override { return "Dropout"; }
    Generator& generator() { return gen_; }

private:
    double p_;
    Generator gen_;
};

}  // namespace ichseg::nn

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::nn {
ICHSEG_EXTERN_TEMPLATE template class ReLU<float>;
ICHSEG_EXTERN_TEMPLATE template class Sigmoid<float>;
ICHSEG_EXTERN_TEMPLATE template class Identity<float>;
ICHSEG_EXTERN_TEMPLATE template class Dropout<float>;
}  // namespace ichseg::nn
#endif
