/// @file common.hpp (ops)
/// @brief Argument checks shared by every op: each failure names the op, the argument and its shape.
#pragma once

#include <type_traits>

#include "ichseg/autograd/variable.hpp"
#include "ichseg/core/tensor.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/ops.hpp"  // CUDA entry points the ops dispatch to
#endif

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

/// Ops in this build run on the CPU; a CUDA tensor gets a clear message until its kernel is dispatched.
template <class T>
Tensor<T> cpu_input(const char* op, const Tensor<T>& t) {
    if (t.defined() && t.device().is_cuda()) no_cuda_backend(op);
    return t.contiguous();
}

}  // namespace ichseg::detail
