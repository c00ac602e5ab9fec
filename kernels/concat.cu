/// @file concat.cu
/// @brief Concatenation as strided block copies (one launch per input), and the slicing copies of backward.
#include "elementwise.cuh"
#include "ichseg/cuda/concat.hpp"

namespace ichseg::cuda {
namespace kern {
struct ConcatCopy {
    long long len, total, offset;
    const float* src;
    float* dst;
    bool to_out;
    __device__ void operator()(long long i) const {
        const long long o = i / len, k = i - o * len;
        const long long wide = o * total + offset + k;
        if (to_out) dst[wide] = __ldg(src + i);
        else dst[i] = __ldg(src + wide);
    }
};
}  // namespace kern
namespace launch {
void concat_copy(int64_t outer, int64_t len, int64_t total, int64_t offset, const float* src, float* dst, bool to_out) {
    if (len == 0) return;
    kern::launch_map(outer * len, kern::ConcatCopy{len, total, offset, src, dst, to_out});
}
}  // namespace launch
}  // namespace ichseg::cuda
