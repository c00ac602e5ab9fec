/// @file container.hpp (nn)
/// @brief Sequential (children "0", "1", ... applied in order) and ModuleList (children "0", "1", ...
/// without a forward of its own), named as in PyTorch.
#pragma once

#include "ichseg/nn/module.hpp"

namespace ichseg::nn {

template <class T = float>
class Sequential : public Module<T> {
public:
    template <class M>
    std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
        layers_.push_back(m);
        return this->register_module(std::to_string(layers_.size() - 1), m);
    }
    Var<T> forward(const Var<T>& x) override {
        Var<T> y = x;
        for (auto& l : layers_) y = l->forward(y);
        return y;
    }
    std::string type_name() const override { return "Sequential"; }
    size_t size() const { return layers_.size(); }
    Module<T>& operator[](size_t i) { return *layers_.at(i); }

private:
    std::vector<std::shared_ptr<Module<T>>> layers_;
};

/// Children named by position; the owner keeps typed pointers and calls them itself.
template <class T = float>
class ModuleList : public Module<T> {
public:
    template <class M>
    std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
        return this->register_module(std::to_string(count_++), m);
    }
    std::string type_name() const override { return "ModuleList"; }

private:
    size_t count_ = 0;
};

}  // namespace ichseg::nn

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::nn {
ICHSEG_EXTERN_TEMPLATE template class Sequential<float>;
ICHSEG_EXTERN_TEMPLATE template class ModuleList<float>;
}  // namespace ichseg::nn
#endif
