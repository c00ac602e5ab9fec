/// @file variable.hpp
/// @brief `Var<T>`: a tensor that takes part in automatic differentiation, and the tape that records it.
///
/// The tape is dynamic (define-by-run): each differentiable op called while grad mode is on appends a node
/// holding its backward function and what it saved. `Var::backward()` runs the recorded nodes reachable from
/// the result in reverse recording order.
///
/// Gradient accumulation rule (the only one):
///  - leaf variables (parameters, inputs created with requires_grad) ACCUMULATE: `grad += dL/dx` on every
///    backward call until `zero_grad()` resets them, so micro-batches can be summed;
///  - gradients of intermediate values are SUMMED over all their uses within one backward call (fan-out, e.g.
///    U-Net skip connections) and freed as soon as the node that produced the value has used them;
///  - saved tensors are released once a node has run, so one graph can be backpropagated only once.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ichseg/autograd/grad_mode.hpp"
#include "ichseg/core/parallel.hpp"
#include "ichseg/core/precision.hpp"
#include "ichseg/core/tensor.hpp"

namespace ichseg {

template <class T>
struct VarImpl;

/// One recorded op: its inputs, the value it produced and how to map dL/d(output) to dL/d(inputs).
template <class T>
struct Node {
    virtual ~Node() = default;
    /// dL/d(input i) for every input; an undefined tensor where an input needs no gradient.
    virtual std::vector<Tensor<T>> backward(const Tensor<T>& grad_output) = 0;
    /// Drop saved tensors (called after backward has used them).
    virtual void release() {}

    std::string name;
    uint64_t seq = 0;
    Precision precision = Precision::FP32;  ///< the CPU product precision in force when recorded; backward uses it
    std::vector<std::shared_ptr<VarImpl<T>>> inputs;
    VarImpl<T>* output = nullptr;
    bool released = false;

    bool needs_grad(size_t i) const { return i < inputs.size() && inputs[i] && inputs[i]->requires_grad; }
};

template <class T>
struct VarImpl {
    Tensor<T> value;
    Tensor<T> grad;
    bool requires_grad = false;
    std::shared_ptr<Node<T>> grad_fn;
    bool is_leaf() const { return !grad_fn; }
};

namespace detail {
inline uint64_t next_node_seq() {
    thread_local uint64_t seq = 0;
    return ++seq;
}
/// dst = dst + g, in place when dst's buffer is not shared, else into a fresh tensor. On a CUDA device the sum is
/// the backend's kernel, reached through the device hooks (core/device_hooks.hpp): the tape includes no cuda/.
template <class T>
void accumulate(Tensor<T>& dst, const Tensor<T>& g) {
    if (!dst.defined()) {
        dst = g;
        return;
    }
    ICHSEG_CHECK(dst.shape() == g.shape(), "autograd: gradient of shape ", to_string(g.shape()),
                 " cannot be added to gradient of shape ", to_string(dst.shape()));
    ICHSEG_CHECK(g.device() == dst.device(), "autograd: gradient on ", g.device().str(),
                 " cannot be added to a gradient on ", dst.device().str());
    if (dst.device().is_cuda()) {
        if constexpr (!std::is_same_v<T, float>) {
            fail("autograd: gradient accumulation of ", dtype_name<T>(), " tensors on CUDA is not supported");
        } else {
            ICHSEG_CHECK(cuda_hooks_ready() && cuda_hooks().add_inplace_f32,
                         "autograd: gradient accumulation on ", dst.device().str(), " needs the CUDA backend");
            ICHSEG_CHECK(g.is_contiguous(), "autograd: strided CUDA gradient ", describe(g));
            if (!dst.owns_buffer_exclusively() || !dst.is_contiguous()) dst = dst.clone();
            cuda_hooks().add_inplace_f32(dst.data(), g.data(), dst.numel(), dst.device().index);
        }
        return;
    }
    Tensor<T> gc = g.contiguous();
    if (!dst.owns_buffer_exclusively() || !dst.is_contiguous()) dst = dst.clone();
    T* d = dst.data();
    const T* s = gc.data();
    const int64_t n = dst.numel();
    parallel_for((n + 32767) / 32768, [&](int64_t blk) {
        const int64_t hi = std::min<int64_t>(n, (blk + 1) * 32768);
        for (int64_t i = blk * 32768; i < hi; ++i) d[i] += s[i];
    });
}
}  // namespace detail

template <class T>
class Var {
public:
    Var() = default;
    explicit Var(Tensor<T> value, bool requires_grad = false) : p_(std::make_shared<VarImpl<T>>()) {
        p_->value = std::move(value);
        p_->requires_grad = requires_grad;
    }

    bool defined() const { return p_ && p_->value.defined(); }
    const Tensor<T>& value() const { return impl().value; }
    /// Mutable access to the value, for optimiser updates under NoGradGuard. Do not change the shape.
    Tensor<T>& mutable_value() { return impl().value; }
    const Tensor<T>& grad() const { return impl().grad; }
    Tensor<T>& mutable_grad() { return impl().grad; }
    bool requires_grad() const { return p_ && p_->requires_grad; }
    void set_requires_grad(bool r) {
        ICHSEG_CHECK(impl().is_leaf() || r, "set_requires_grad(false) on a non-leaf variable; use detach()");
        impl().requires_grad = r;
    }
    bool is_leaf() const { return impl().is_leaf(); }
    const Shape& shape() const { return value().shape(); }
    int64_t size(int64_t i) const { return value().size(i); }
    int64_t dim() const { return value().dim(); }
    int64_t numel() const { return value().numel(); }
    Device device() const { return value().device(); }
    /// The same value cut off from the tape.
    Var detach() const { return Var(value(), false); }
    /// Reset the gradient (to undefined; the next backward writes it fresh).
    void zero_grad() { impl().grad = Tensor<T>(); }
    std::shared_ptr<VarImpl<T>> impl_ptr() const { return p_; }
    VarImpl<T>& impl() const {
        ICHSEG_CHECK(p_, "use of an undefined Var");
        return *p_;
    }

    /// Backpropagate from a scalar (one-element) value with seed gradient 1.
    void backward() const {
        ICHSEG_CHECK(numel() == 1, "backward(): the value has shape ", to_string(shape()),
                     "; only a one-element value can be the root without an explicit seed gradient");
        backward(Tensor<T>::full(shape(), T(1), device()));
    }
    /// Backpropagate with an explicit seed dL/d(this).
    void backward(const Tensor<T>& seed) const;

private:
    std::shared_ptr<VarImpl<T>> p_;
};

/// A node whose backward is a closure; the closure (and everything it saved) is destroyed by release().
template <class T, class F>
struct LambdaNode final : Node<T> {
    explicit LambdaNode(F f) : fn(std::move(f)) {}
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override { return (*fn)(g); }
    void release() override { fn.reset(); }
    std::optional<F> fn;
};

/// Wrap the result of an op: when grad mode is on and any input requires a gradient, record a node whose
/// backward is `bwd(grad_output) -> {grad per input}`; otherwise return a plain variable.
template <class T, class F>
Var<T> record(const char* name, Tensor<T> value, const std::vector<const Var<T>*>& inputs, F bwd) {
    bool need = false;
    if (grad_enabled())
        for (const Var<T>* v : inputs) need = need || (v && v->requires_grad());
    Var<T> out(std::move(value), need);
    if (!need) return out;
    auto node = std::make_shared<LambdaNode<T, F>>(std::move(bwd));
    node->name = name;
    node->seq = detail::next_node_seq();
    node->precision = precision();
    for (const Var<T>* v : inputs) node->inputs.push_back(v && v->defined() ? v->impl_ptr() : nullptr);
    node->output = &out.impl();
    out.impl().grad_fn = node;
    return out;
}

template <class T>
void Var<T>::backward(const Tensor<T>& seed) const {
    ICHSEG_CHECK(requires_grad(), "backward(): the value does not require a gradient (no parameter or input with "
                                  "requires_grad took part, or it was computed under NoGradGuard)");
    ICHSEG_CHECK(seed.shape() == shape(), "backward(): seed gradient of shape ", to_string(seed.shape()),
                 " for a value of shape ", to_string(shape()));
    if (is_leaf()) {
        detail::accumulate(impl().grad, seed.clone());
        return;
    }
    // Collect the nodes reachable from this value.
    std::vector<Node<T>*> order;
    std::unordered_set<Node<T>*> seen;
    std::vector<Node<T>*> stack{impl().grad_fn.get()};
    seen.insert(stack.back());
    while (!stack.empty()) {
        Node<T>* n = stack.back();
        stack.pop_back();
        order.push_back(n);
        for (auto& in : n->inputs)
            if (in && in->requires_grad && in->grad_fn && seen.insert(in->grad_fn.get()).second)
                stack.push_back(in->grad_fn.get());
    }
    // Reverse recording order is a valid reverse topological order of a define-by-run graph.
    std::sort(order.begin(), order.end(), [](const Node<T>* a, const Node<T>* b) { return a->seq > b->seq; });
    std::unordered_map<VarImpl<T>*, Tensor<T>> pending;
    pending[&impl()] = seed;
    NoGradGuard no_grad;  // backward functions compute plain tensors
    for (Node<T>* n : order) {
        auto it = pending.find(n->output);
        if (it == pending.end()) continue;
        ICHSEG_CHECK(!n->released, "backward(): the graph through '", n->name,
                     "' was already backpropagated; recompute the forward pass");
        Tensor<T> g = std::move(it->second);
        pending.erase(it);
        std::vector<Tensor<T>> grads;
        {
            const PrecisionGuard recorded(n->precision);  // backward in the forward's precision (as autocast)
            grads = n->backward(g);
        }
        g = Tensor<T>();
        for (size_t i = 0; i < n->inputs.size() && i < grads.size(); ++i) {
            VarImpl<T>* in = n->inputs[i].get();
            if (!in || !in->requires_grad || !grads[i].defined()) continue;
            ICHSEG_CHECK(grads[i].shape() == in->value.shape(), "autograd: op '", n->name, "' returned a gradient of "
                         "shape ", to_string(grads[i].shape()), " for input ", i, " of shape ",
                         to_string(in->value.shape()));
            if (in->is_leaf()) {
                // A leaf's gradient never aliases another tensor (the caller's seed, another input's gradient,
                // a tensor an op saved): take the returned buffer only when nothing else references it.
                if (!in->grad.defined() && !(grads[i].owns_buffer_exclusively() && grads[i].is_contiguous()))
                    grads[i] = grads[i].clone();
                detail::accumulate(in->grad, grads[i]);
            } else {
                detail::accumulate(pending[in], grads[i]);
            }
        }
        n->release();
        n->released = true;
    }
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template struct Node<float>;
ICHSEG_EXTERN_TEMPLATE template class Var<float>;
ICHSEG_EXTERN_TEMPLATE template void detail::accumulate<float>(Tensor<float>&, const Tensor<float>&);
}  // namespace ichseg
#endif
