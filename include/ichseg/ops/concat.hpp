/// @file concat.hpp
/// @brief Concatenation along one dimension (torch.cat); the backward pass slices the gradient back (split).
/// All inputs must agree in every other dimension. The U-Net uses cat([skip, up], dim 1).
///   concat_fwd(xs, dim) -> y;  concat_bwd(dy, sizes, dim) -> one slice per input (split)  (tensor-level, either
///   device);  concat(Vars, dim): the tape node.  Kernels: cpu/concat.hpp, cuda/concat.hpp (kernels/concat.cu).
#pragma once

#include <vector>

#include "ichseg/cpu/concat.hpp"
#include "ichseg/ops/common.hpp"
#include "ichseg/params/concat.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/concat.hpp"
#endif

namespace ichseg {

/// The block layout of concatenating tensors of `shapes` along `dim` (negative counts from the end), validated:
/// every other extent must agree. `out` receives the output shape.
inline ConcatGeometry concat_geometry(const char* op, const std::vector<Shape>& shapes, int64_t dim, Shape* out) {
    ICHSEG_CHECK(!shapes.empty(), op, ": no inputs");
    const Shape& s0 = shapes[0];
    const int64_t rank = static_cast<int64_t>(s0.size());
    if (dim < 0) dim += rank;
    ICHSEG_CHECK(dim >= 0 && dim < rank, op, ": dimension ", dim, " out of range for ", to_string(s0));
    ConcatGeometry g;
    for (int64_t d = 0; d < dim; ++d) g.outer *= s0[d];
    for (int64_t d = dim + 1; d < rank; ++d) g.inner *= s0[d];
    for (size_t i = 0; i < shapes.size(); ++i) {
        const Shape& s = shapes[i];
        bool ok = s.size() == s0.size();
        for (int64_t d = 0; ok && d < rank; ++d) ok = (d == dim) || s[d] == s0[d];
        ICHSEG_CHECK(ok, op, ": input ", i, " has shape ", to_string(s), ", incompatible with input 0 of shape ",
                     to_string(s0), " along dimension ", dim);
        g.offsets.push_back(g.total);
        g.sizes.push_back(s[dim]);
        g.total += s[dim];
    }
    *out = s0;
    (*out)[dim] = g.total;
    return g;
}

template <class T>
Tensor<T> concat_fwd(const std::vector<Tensor<T>>& xs, int64_t dim = 1) {
    detail::static_check_float<T>();
    const char* op = "concat_fwd";
    std::vector<Shape> shapes;
    std::vector<const Tensor<T>*> args;
    for (size_t i = 0; i < xs.size(); ++i) {
        ICHSEG_CHECK(xs[i].defined(), op, ": input ", i, " is undefined");
        shapes.push_back(xs[i].shape());
        args.push_back(&xs[i]);
    }
    Shape out;
    const ConcatGeometry g = concat_geometry(op, shapes, dim, &out);
    const Device dev = detail::op_device(op, args);
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g))) return cuda::concat_fwd(g, xs, out);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    std::vector<Tensor<T>> vals;
    std::vector<const T*> ptrs;
    for (const Tensor<T>& x : xs) {
        vals.push_back(detail::cpu_input(op, x));
        ptrs.push_back(vals.back().data());
    }
    Tensor<T> y = Tensor<T>::empty(out);
    cpu::concat_fwd(g, ptrs, y.data());
    return y;
}

/// split: dy cut along `dim` into slices of `sizes` (the extents of concat_fwd's inputs along dim).
template <class T>
std::vector<Tensor<T>> concat_bwd(const Tensor<T>& dy, const std::vector<int64_t>& sizes, int64_t dim = 1) {
    detail::static_check_float<T>();
    const char* op = "concat_bwd";
    ICHSEG_CHECK(dy.defined(), op, ": dy is undefined");
    if (dim < 0) dim += dy.dim();
    ICHSEG_CHECK(dim >= 0 && dim < dy.dim(), op, ": dimension ", dim, " out of range for ", describe(dy));
    std::vector<Shape> shapes;
    for (int64_t s : sizes) {
        Shape si = dy.shape();
        si[dim] = s;
        shapes.push_back(si);
    }
    Shape out;
    const ConcatGeometry g = concat_geometry(op, shapes, dim, &out);
    ICHSEG_CHECK(out == dy.shape(), op, ": slices of ", to_string(Shape(sizes)), " along dimension ", dim,
                 " do not tile dy ", describe(dy));
    const Device dev = detail::op_device(op, {&dy});
    std::vector<Tensor<T>> dxs;
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda()) {
        detail::require_support<T>(op, dev, cuda::supports<T>(g));
        for (size_t i = 0; i < sizes.size(); ++i) dxs.push_back(cuda::concat_bwd(g, i, dy, shapes[i]));
        return dxs;
    }
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> dyc = detail::cpu_input(op, dy);
    for (size_t i = 0; i < sizes.size(); ++i) {
        Tensor<T> dx = Tensor<T>::empty(shapes[i]);
        cpu::concat_bwd(g, i, dyc.data(), dx.data());
        dxs.push_back(dx);
    }
    return dxs;
}

template <class T>
Var<T> concat(const std::vector<Var<T>>& xs, int64_t dim = 1) {
    std::vector<Tensor<T>> vals;
    std::vector<int64_t> sizes;
    std::vector<const Var<T>*> inputs;
    for (const Var<T>& v : xs) {
        vals.push_back(v.defined() ? v.value() : Tensor<T>());
        inputs.push_back(&v);
    }
    Tensor<T> y = concat_fwd(vals, dim);
    if (dim < 0) dim += y.dim();
    for (const Tensor<T>& v : vals) sizes.push_back(v.size(dim));
    return record<T>("concat", y, inputs, [sizes, dim](const Tensor<T>& gy) { return concat_bwd(gy, sizes, dim); });
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> concat_fwd<float>(const std::vector<Tensor<float>>&, int64_t);
ICHSEG_EXTERN_TEMPLATE template std::vector<Tensor<float>> concat_bwd<float>(const Tensor<float>&,
                                                                             const std::vector<int64_t>&, int64_t);
ICHSEG_EXTERN_TEMPLATE template Var<float> concat<float>(const std::vector<Var<float>>&, int64_t);
}  // namespace ichseg
#endif
