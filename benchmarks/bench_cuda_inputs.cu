/// @file bench_cuda_inputs.cu
/// @brief Benchmark inputs drawn on the GPU: element i of a tensor is lo + (hi - lo) * random_uniform(seed,
/// stream, i) (core/rng.hpp's Philox, the same value the CPU would draw), or a 0/1 mask where that uniform
/// exceeds a threshold. One kernel launch instead of a single-threaded host loop and a copy: the 345-benchmark
/// layer set drew about 18 G numbers on the host before.
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "ichseg/core/rng.hpp"

namespace ichseg::bench {
namespace {
__global__ void fill_kernel(float* x, long long n, unsigned long long seed, unsigned long long stream, float lo,
                            float hi, float threshold, bool mask) {
    const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n; i += step) {
        const float u = random_uniform(seed, stream, static_cast<uint64_t>(i));
        x[i] = mask ? (u > threshold ? 1.f : 0.f) : lo + (hi - lo) * u;
    }
}
}  // namespace

/// Fill n floats at device pointer x on `stream_handle` (a cudaStream_t); throws on a launch error.
void fill_uniform_on_device(float* x, int64_t n, uint64_t seed, uint64_t stream, float lo, float hi, bool mask,
                            float threshold, void* stream_handle) {
    if (n <= 0) return;
    const long long blocks = (n + 255) / 256 < 65536 ? (n + 255) / 256 : 65536;
    fill_kernel<<<static_cast<unsigned>(blocks), 256, 0, static_cast<cudaStream_t>(stream_handle)>>>(
        x, n, seed, stream, lo, hi, threshold, mask);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) throw std::runtime_error(std::string("bench input fill: ") + cudaGetErrorString(e));
}

}  // namespace ichseg::bench
