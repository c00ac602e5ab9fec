/// @file common.hpp (cuda)
/// @brief What every CUDA tensor-level launcher (cuda/<op>.hpp) shares: the parts of `cuda::supports` that most
/// ops have in common (float only, 32-bit indexing) and the argument checks a launcher makes on its tensors (on
/// the op's device, contiguous). Host code only, no CUDA headers: a g++ translation unit can include it.
///
/// A launcher takes tensors and the op's params struct (params/<op>.hpp), allocates its outputs on the inputs'
/// device, calls the `launch::` function compiled into ichseg::cuda (kernels/<op>.cu) and returns tensors. It never
/// sees a Var or the tape: the differentiable op and its backward formula live once in ops/<op>.hpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "ichseg/core/tensor.hpp"
#include "ichseg/cuda/runtime.hpp"
#include "ichseg/params/common.hpp"

namespace ichseg::cuda {

/// The CUDA kernels compute in float (FP32 storage; docs/cuda.md, "Precision policy").
template <class T>
Support supports_dtype() {
    if constexpr (std::is_same_v<T, float>)
        return Support::yes();
    else
        return Support::no("the CUDA kernels compute in float (cast to float, or keep this work on the CPU)");
}

/// The kernels index elements with 32-bit integers: every tensor of the op must have fewer than 2^31 elements.
inline Support supports_elements(std::initializer_list<int64_t> counts) {
    for (int64_t n : counts)
        if (n >= (int64_t(1) << 31))
            return Support::no("a tensor of " + std::to_string(n) +
                               " elements exceeds the CUDA kernels' 32-bit indexing (split the batch)");
    return Support::yes();
}

namespace detail {
/// A launcher called for another element type than float (bypassing the dispatch's supports()) fails here.
template <class T>
void require_float(const char* op) {
    if constexpr (!std::is_same_v<T, float>)
        fail(op, ": the CUDA backend computes in float; ", dtype_name<T>(),
             " tensors on CUDA are not supported "
             "(cast to float, or keep double work on the CPU)");
}
/// `t` itself, after checking that it is on `dev` and contiguous (the kernels read raw row-major buffers).
template <class T>
Tensor<T> device_input(const char* op, const Tensor<T>& t, Device dev) {
    ICHSEG_CHECK(t.defined(), op, ": undefined tensor argument");
    ICHSEG_CHECK(t.device() == dev, op, ": argument ", describe(t), " is not on ", dev.str(), " (move it with .to(",
                 dev.str(), "))");
    ICHSEG_CHECK(t.is_contiguous(), op, ": CUDA kernels need contiguous tensors, got a strided view ", describe(t));
    return t;
}
/// The pointer of an optional argument (nullptr when undefined), checked like device_input.
template <class T>
const T* optional_data(const char* op, const Tensor<T>& t, Device dev) {
    return t.defined() ? device_input(op, t, dev).data() : nullptr;
}
/// The same limit as supports_elements, for launchers that compute a size the dispatch did not see.
inline void check_int32(const char* op, int64_t n) {
    ICHSEG_CHECK(n < (int64_t(1) << 31), op, ": tensor of ", n, " elements exceeds the CUDA kernels' 32-bit indexing");
}
}  // namespace detail

}  // namespace ichseg::cuda
