/// @file max_pool2d.hpp
/// @brief 2-D max pooling, no padding (torch.nn.functional.max_pool2d with padding 0, floor mode).
/// x (N,C,H,W) -> y (N,C,(H-k)/s+1,(W-k)/s+1); the gradient goes to the first maximum of each window.
#pragma once

#include "ichseg/cpu/max_pool2d.hpp"
#include "ichseg/ops/common.hpp"

namespace ichseg {

struct MaxPool2dParams {
    int64_t kernel = 2, stride = 2;
};

inline cpu::PoolGeometry max_pool2d_geometry(const Shape& x, const MaxPool2dParams& p) {
    ICHSEG_CHECK(x.size() == 4, "max_pool2d: input must be (N,C,H,W), got ", to_string(x));
    ICHSEG_CHECK(p.kernel >= 1 && p.stride >= 1, "max_pool2d: invalid kernel ", p.kernel, " or stride ", p.stride);
    ICHSEG_CHECK(x[2] >= p.kernel && x[3] >= p.kernel, "max_pool2d: input ", to_string(x), " smaller than kernel ",
                 p.kernel);
    return {x[0], x[1], x[2], x[3], p.kernel, p.kernel, p.stride, p.stride, (x[2] - p.kernel) / p.stride + 1,
            (x[3] - p.kernel) / p.stride + 1};
}

template <class T>
Var<T> max_pool2d(const Var<T>& x, const MaxPool2dParams& p = {}) {
    detail::static_check_float<T>();
    auto g = max_pool2d_geometry(x.shape(), p);
#if ICHSEG_WITH_CUDA
    if (x.device().is_cuda()) return cuda::max_pool2d(x, g);
#endif
    Tensor<T> xc = detail::cpu_input("max_pool2d", x.value());
    Tensor<T> y = Tensor<T>::empty({g.N, g.C, g.P, g.Q});
    cpu::max_pool2d_fwd(g, xc.data(), y.data());
    Tensor<T> xs = x.requires_grad() ? xc : Tensor<T>();
    return record<T>("max_pool2d", y, {&x}, [xs, g](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::cpu_input("max_pool2d_bwd", gy_in);
        Tensor<T> dx = Tensor<T>::empty(xs.shape());
        cpu::max_pool2d_bwd(g, gy.data(), xs.data(), dx.data());
        return std::vector<Tensor<T>>{dx};
    });
}

}  // namespace ichseg
