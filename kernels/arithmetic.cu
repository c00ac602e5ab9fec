/// @file arithmetic.cu
/// @brief add, mul, scale, in-place accumulation (the autograd tape's gradient sums, through the device hooks) and the sum of all elements.
#include <vector>

#include "elementwise.cuh"
#include "ichseg/cuda/pointwise.hpp"

namespace ichseg::cuda {
namespace kern {
struct Add {
    const float *a, *b;
    float* y;
    __device__ void operator()(long long i) const { y[i] = __ldg(a + i) + __ldg(b + i); }
};
struct Mul {
    const float *a, *b;
    float* y;
    __device__ void operator()(long long i) const { y[i] = __ldg(a + i) * __ldg(b + i); }
};
struct Scale {
    const float* a;
    float s;
    float* y;
    __device__ void operator()(long long i) const { y[i] = __ldg(a + i) * s; }
};
struct Accumulate {
    float* d;
    const float* s;
    __device__ void operator()(long long i) const { d[i] += __ldg(s + i); }
};
struct Value {
    const float* x;
    __device__ double operator()(long long i) const { return static_cast<double>(__ldg(x + i)); }
};

double host_sum_of_partials(const double* dev_part, int blocks) {
    std::vector<double> h(static_cast<std::size_t>(blocks));
    ICHSEG_CUDA_CHECK(cudaMemcpyAsync(h.data(), dev_part, sizeof(double) * blocks, cudaMemcpyDeviceToHost,
                                      detail::stream()));
    ICHSEG_CUDA_CHECK(cudaStreamSynchronize(detail::stream()));
    double s = 0;
    for (double v : h) s += v;
    return s;
}
}  // namespace kern

namespace launch {
void add(int64_t n, const float* a, const float* b, float* y) { kern::launch_map(n, kern::Add{a, b, y}); }
void mul(int64_t n, const float* a, const float* b, float* y) { kern::launch_map(n, kern::Mul{a, b, y}); }
void scale(int64_t n, const float* a, float s, float* y) { kern::launch_map(n, kern::Scale{a, s, y}); }
void add_inplace(int64_t n, float* d, const float* s) { kern::launch_map(n, kern::Accumulate{d, s}); }
double sum(int64_t n, const float* x) { return kern::launch_sum(n, kern::Value{x}); }
}  // namespace launch
}  // namespace ichseg::cuda
