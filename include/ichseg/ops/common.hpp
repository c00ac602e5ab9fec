/// @file common.hpp (ops)
/// @brief What every op header shares: argument checks whose failures name the op, the argument and its shape,
/// and the two steps of each dispatch (the device the op runs on, and asking that backend's `supports` first).
///
/// The dispatch of a tensor-level entry point (docs/design.md, "Adding an op"):
///   1. validate shapes and build the params struct (params/X.hpp);
///   2. `const Device dev = detail::op_device(op, {&x, &w, ...});`   (all arguments on one device)
///   3. on CUDA: `detail::require_support<T>(op, dev, cuda::supports<T>(g)); return cuda::X(g, ...);`
///      on the CPU: `detail::require_support<T>(op, dev, cpu::supports<T>(g));` then the cpu:: kernel.
#pragma once

#include <initializer_list>
#include <type_traits>
#include <vector>

#include "ichseg/autograd/variable.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/cpu/common.hpp"
#include "ichseg/params/common.hpp"

namespace ichseg::detail {

template <class T>
constexpr void static_check_float() {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ichseg: differentiable ops are defined for float and double tensors");
}

template <class T>
void check_rank(const char* op, const char* arg, const Tensor<T>& t, int64_t rank) {
    ICHSEG_CHECK(t.defined(), op, ": ", arg, " is undefined");
    ICHSEG_CHECK(t.dim() == rank, op, ": ", arg, " must have rank ", rank, ", got ", describe(t));
}

template <class T, class U>
void check_same_shape(const char* op, const char* a, const Tensor<T>& x, const char* b, const Tensor<U>& y) {
    ICHSEG_CHECK(x.defined() && y.defined(), op, ": undefined argument (", a, " or ", b, ")");
    ICHSEG_CHECK(x.shape() == y.shape(), op, ": shape mismatch: ", a, " ", to_string(x.shape()), " vs ", b, " ",
                 to_string(y.shape()));
}

template <class T, class U>
void check_same_device(const char* op, const Tensor<T>& x, const Tensor<U>& y) {
    ICHSEG_CHECK(x.device() == y.device(), op, ": arguments on different devices (", x.device().str(), " and ",
                 y.device().str(), ")");
}

/// The device an op runs on: that of its defined tensor arguments, which must all agree (undefined ones, such as
/// an absent bias, are skipped). A CUDA tensor in a program built without the CUDA backend is an error here.
template <class T, class Args>
Device common_device(const char* op, const Args& args) {
    const Tensor<T>* first = nullptr;
    for (const Tensor<T>* t : args) {
        if (!t || !t->defined()) continue;
        if (!first)
            first = t;
        else
            ICHSEG_CHECK(t->device() == first->device(), op, ": arguments on different devices (", describe(*first),
                         " and ", describe(*t), ")");
    }
    const Device dev = first ? first->device() : Device::cpu();
#if !ICHSEG_WITH_CUDA
    if (dev.is_cuda()) no_cuda_backend(op);
#endif
    return dev;
}
template <class T>
Device op_device(const char* op, std::initializer_list<const Tensor<T>*> args) {
    return common_device<T>(op, args);
}
template <class T>
Device op_device(const char* op, const std::vector<const Tensor<T>*>& args) {
    return common_device<T>(op, args);
}

/// Throw when the backend of `dev` said it cannot run the op: the message names the op, the dtype and the device.
template <class T>
void require_support(const char* op, Device dev, const Support& s) {
    if (!s.ok())
        fail(op, ": ", dtype_name<T>(), " tensors on ", dev.str(), " are not supported by the ",
             dev.is_cuda() ? "CUDA" : "CPU", " backend: ", s.reason);
}

/// A CPU argument as a contiguous tensor: `t` itself when it already is (no copy on the usual path).
template <class T>
Tensor<T> cpu_input(const char* op, const Tensor<T>& t) {
    ICHSEG_CHECK(!t.defined() || t.device().is_cpu(), op, ": expected a CPU tensor, got ", describe(t));
    return t.contiguous();
}

}  // namespace ichseg::detail
