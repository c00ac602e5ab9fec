/// @file runtime.cu
/// @brief The CUDA backend's runtime: one non-blocking stream per device, the stream-ordered memory pool
/// (cudaMallocAsync on the device's default pool, release threshold raised so freed blocks stay cached), and
/// the device hooks (core/device_hooks.hpp) through which core/ and autograd/ reach the backend: allocate, free,
/// copy and zero CUDA tensor memory, the tape's gradient accumulation, and the device queries.
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common.cuh"
#include "ichseg/core/device_hooks.hpp"
#include "ichseg/cuda/pointwise.hpp"

namespace ichseg::cuda {
namespace detail {

namespace {
constexpr int kMaxDevices = 64;
struct DeviceState {
    cudaStream_t stream = nullptr;
    int sms = 0;
    int cc = 0;
    bool ready = false;
};
DeviceState g_dev[kMaxDevices];
std::mutex g_mu;  // guards g_dev initialisation and the pool statistics
std::unordered_map<void*, std::size_t> g_sizes;
PoolStats g_stats;

int current_device() {
    int d = 0;
    ICHSEG_CUDA_CHECK(cudaGetDevice(&d));
    return d;
}

DeviceState& state(int dev) {
    ICHSEG_CHECK(dev >= 0 && dev < kMaxDevices, "CUDA device index ", dev, " out of range");
    DeviceState& s = g_dev[dev];
    if (s.ready) return s;
    std::lock_guard<std::mutex> lock(g_mu);
    if (s.ready) return s;
    int prev = 0;
    ICHSEG_CUDA_CHECK(cudaGetDevice(&prev));
    ICHSEG_CUDA_CHECK(cudaSetDevice(dev));
    ICHSEG_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
    cudaMemPool_t pool;
    ICHSEG_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, dev));
    uint64_t threshold = UINT64_MAX;  // keep freed memory in the pool: no per-step cudaMalloc / cudaFree
    ICHSEG_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
    ICHSEG_CUDA_CHECK(cudaDeviceGetAttribute(&s.sms, cudaDevAttrMultiProcessorCount, dev));
    int major = 0, minor = 0;
    ICHSEG_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    ICHSEG_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    s.cc = major * 10 + minor;
    ICHSEG_CUDA_CHECK(cudaSetDevice(prev));
    s.ready = true;
    return s;
}

void note_alloc(void* p, std::size_t bytes) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_sizes[p] = bytes;
    g_stats.in_use += static_cast<int64_t>(bytes);
    g_stats.allocations += 1;
    if (g_stats.in_use > g_stats.peak) g_stats.peak = g_stats.in_use;
}
void note_free(void* p) {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_sizes.find(p);
    if (it == g_sizes.end()) return;
    g_stats.in_use -= static_cast<int64_t>(it->second);
    g_sizes.erase(it);
}

void* hook_allocate(std::size_t bytes, int dev) {
    ICHSEG_CUDA_CHECK(cudaSetDevice(dev));
    void* p = nullptr;
    const cudaError_t e = cudaMallocAsync(&p, bytes, state(dev).stream);
    if (e != cudaSuccess) {
        cudaGetLastError();
        fail("CUDA out of memory (or pool error) allocating ", bytes, " bytes on cuda:", dev, ": ",
             cudaGetErrorString(e), " (in use by ichseg: ", g_stats.in_use, " bytes)");
    }
    note_alloc(p, bytes);
    return p;
}
void hook_deallocate(void* p, int dev) {
    // Never throws: tensors may be freed while the process (and the CUDA runtime) shuts down.
    note_free(p);
    if (cudaSetDevice(dev) != cudaSuccess || cudaFreeAsync(p, g_dev[dev].stream) != cudaSuccess) cudaGetLastError();
}
void hook_copy(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes) {
    const int dev = dst_dev.is_cuda() ? dst_dev.index : src_dev.index;
    ICHSEG_CUDA_CHECK(cudaSetDevice(dev));
    cudaStream_t s = state(dev).stream;
    if (dst_dev.is_cuda() && src_dev.is_cuda() && dst_dev.index != src_dev.index) {
        ICHSEG_CUDA_CHECK(cudaStreamSynchronize(state(src_dev.index).stream));
        ICHSEG_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_dev.index, src, src_dev.index, bytes, s));
        return;
    }
    ICHSEG_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s));
    // The host side may be read or freed right after the call returns.
    if (dst_dev.is_cpu() || src_dev.is_cpu()) ICHSEG_CUDA_CHECK(cudaStreamSynchronize(s));
}
void hook_memset_zero(void* p, std::size_t bytes, int dev) {
    ICHSEG_CUDA_CHECK(cudaSetDevice(dev));
    ICHSEG_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, state(dev).stream));
}
void hook_add_inplace_f32(float* d, const float* s, int64_t n, int dev) {
    ICHSEG_CUDA_CHECK(cudaSetDevice(dev));
    launch::add_inplace(n, d, s);
}
int hook_device_count(std::string* why) { return cuda::device_count(why); }
std::string hook_describe_device(int dev) {
    return cuda::device_description(dev) + ", precision " + precision_name(default_precision());
}
}  // namespace

void throw_cuda_error(cudaError_t e, const char* expr, const char* file, int line) {
    cudaGetLastError();  // clear a sticky launch error so the message is about this call
    fail("CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") in ", expr, " at ", file, ":", line);
}

cudaStream_t stream() { return state(current_device()).stream; }
int sm_count() { return state(current_device()).sms; }
int compute_capability() { return state(current_device()).cc; }

void* workspace_allocate(std::size_t bytes) {
    if (bytes == 0) bytes = 256;
    return hook_allocate(bytes, current_device());
}
void workspace_free(void* p) {
    if (p) hook_deallocate(p, current_device());
}

}  // namespace detail

int device_count(std::string* why) {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
        cudaGetLastError();
        return 0;
    }
    if (n == 0 && why) *why = "cudaGetDeviceCount returned 0 devices";
    return n;
}

std::string device_description(int device) {
    cudaDeviceProp prop{};
    ICHSEG_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
           std::to_string(prop.multiProcessorCount) + " SMs, " +
           std::to_string(static_cast<long long>(prop.totalGlobalMem >> 20)) + " MiB; driver " +
           std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10) + ", runtime " +
           std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10) + ")";
}

void synchronize() { ICHSEG_CUDA_CHECK(cudaStreamSynchronize(detail::stream())); }
void* stream_handle() { return static_cast<void*>(detail::stream()); }

PoolStats pool_stats() {
    std::lock_guard<std::mutex> lock(detail::g_mu);
    return detail::g_stats;
}
void reset_pool_peak() {
    std::lock_guard<std::mutex> lock(detail::g_mu);
    detail::g_stats.peak = detail::g_stats.in_use;
}

GpuTimer::GpuTimer() {
    cudaEvent_t a, b;
    ICHSEG_CUDA_CHECK(cudaEventCreate(&a));
    ICHSEG_CUDA_CHECK(cudaEventCreate(&b));
    start_ = a, stop_ = b;
}
GpuTimer::~GpuTimer() {
    cudaEventDestroy(static_cast<cudaEvent_t>(start_));
    cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}
void GpuTimer::start() { ICHSEG_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_), detail::stream())); }
double GpuTimer::stop_ms() {
    ICHSEG_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_), detail::stream()));
    ICHSEG_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)));
    float ms = 0.f;
    ICHSEG_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)));
    return ms;
}

void register_backend() {
    DeviceBackendHooks& h = cuda_hooks();
    if (h.allocate) return;
    h.deallocate = &detail::hook_deallocate;
    h.copy = &detail::hook_copy;
    h.memset_zero = &detail::hook_memset_zero;
    h.add_inplace_f32 = &detail::hook_add_inplace_f32;
    h.device_count = &detail::hook_device_count;
    h.describe_device = &detail::hook_describe_device;
    h.allocate = &detail::hook_allocate;  // last: cuda_hooks_ready() tests this one
}

}  // namespace ichseg::cuda
