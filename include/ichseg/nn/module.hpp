/// @file module.hpp
/// @brief `nn::Module<T>`: the runtime module tree. Parameters, buffers and children are registered by name,
/// and the dotted names of the tree (e.g. "encoder.blocks.0.conv1.weight") are exactly the PyTorch state_dict
/// keys of the same module tree (benchmarks/reference/ichseg_torch.py), so checkpoints move between the two.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ichseg/autograd/variable.hpp"
#include "ichseg/core/rng.hpp"

namespace ichseg {

/// The process-wide generator used by module initialisers when none is passed (like torch.manual_seed).
inline Generator& default_generator() {
    static Generator g(0);
    return g;
}
inline void manual_seed(uint64_t seed) { default_generator() = Generator(seed); }

namespace nn {

template <class T = float>
class Module {
public:
    /// A buffer (non-trainable state such as BN running statistics). `file_dtype` overrides the dtype written
    /// to checkpoints ("I64" for num_batches_tracked, as PyTorch stores it); null means the tensor's own.
    struct BufferRef {
        std::string name;
        Tensor<T>* tensor;
        const char* file_dtype;
    };

    Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;
    virtual ~Module() = default;

    /// Single-input forward; modules whose forward needs more inputs (e.g. a decoder block) throw here.
    virtual Var<T> forward(const Var<T>& /*x*/) {
        fail(type_name(), ": this module has no single-input forward()");
    }
    Var<T> operator()(const Var<T>& x) { return forward(x); }
    virtual std::string type_name() const = 0;

    /// All parameters with dotted names, depth first, in registration order.
    std::vector<std::pair<std::string, Var<T>>> named_parameters(const std::string& prefix = "") const {
        std::vector<std::pair<std::string, Var<T>>> out;
        for (auto& [n, v] : params_) out.emplace_back(prefix + n, v);
        for (auto& [n, m] : children_) {
            auto sub = m->named_parameters(prefix + n + ".");
            out.insert(out.end(), sub.begin(), sub.end());
        }
        return out;
    }
    std::vector<Var<T>> parameters() const {
        std::vector<Var<T>> out;
        for (auto& nv : named_parameters()) out.push_back(nv.second);
        return out;
    }
    std::vector<BufferRef> named_buffers(const std::string& prefix = "") const {
        std::vector<BufferRef> out;
        for (auto& b : buffers_) out.push_back({prefix + b.name, b.tensor, b.file_dtype});
        for (auto& [n, m] : children_) {
            auto sub = m->named_buffers(prefix + n + ".");
            out.insert(out.end(), sub.begin(), sub.end());
        }
        return out;
    }
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }

    int64_t num_parameters() const {
        int64_t n = 0;
        for (auto& nv : named_parameters()) n += nv.second.numel();
        return n;
    }
    void train(bool on = true) {
        training_ = on;
        for (auto& c : children_) c.second->train(on);
    }
    void eval() { train(false); }
    bool is_training() const { return training_; }
    void zero_grad() {
        for (auto& nv : named_parameters()) nv.second.zero_grad();
    }
    /// Freeze (or unfreeze) every parameter of this subtree.
    void set_requires_grad(bool on) {
        for (auto& nv : named_parameters()) nv.second.set_requires_grad(on);
    }

    /// Move every parameter and buffer of this subtree to `dev` (torch's module.to(device)). A tensor already on
    /// `dev` stays as it is (nothing is copied on the CPU path, its gradient is kept); a moved parameter's gradient
    /// is dropped (it is recomputed on the new device). The 0-dimensional num_batches_tracked counters stay on the
    /// CPU, where nn::BatchNorm2d increments them. Optimiser moments follow on the next Adam::step.
    void to(Device dev) {
        for (auto& nv : named_parameters()) {
            Var<T> p = nv.second;  // shares the module's VarImpl
            if (p.value().device() == dev) continue;
            p.mutable_value() = p.value().to(dev);
            p.zero_grad();
        }
        for (auto& b : named_buffers())
            if (b.tensor->defined() && b.tensor->dim() > 0) *b.tensor = b.tensor->to(dev);
    }
    /// The device of the parameters (the CPU for a module without parameters).
    Device device() const {
        const auto named = named_parameters();
        return named.empty() ? Device::cpu() : named.front().second.value().device();
    }

protected:
    Var<T> register_parameter(const std::string& name, Tensor<T> value) {
        params_.emplace_back(name, Var<T>(std::move(value), true));
        return params_.back().second;
    }
    void register_buffer(const std::string& name, Tensor<T>* t, const char* file_dtype = nullptr) {
        buffers_.push_back({name, t, file_dtype});
    }
    template <class M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
        children_.emplace_back(name, m);
        return m;
    }

private:
    std::vector<std::pair<std::string, Var<T>>> params_;
    std::vector<BufferRef> buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

}  // namespace nn
}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::nn {
ICHSEG_EXTERN_TEMPLATE template class Module<float>;
}  // namespace ichseg::nn
#endif
