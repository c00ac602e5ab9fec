/// @file bench_cuda_common.hpp
/// @brief What the GPU benchmarks share: inputs drawn on the device (bench_cuda_inputs.cu) and one main().
///
/// main() (run_benchmarks):
///   - `--full` (ours, removed before Google Benchmark sees argv) registers the full set; default: the compact
///     set that tools/gpu_verify.sh runs. The compact names are a subset of the full names.
///   - No benchmark sets its own MinTime, so `--benchmark_min_time` always takes effect; when it is not given,
///     the binary's default is passed in its place (a per-benchmark MinTime would override the flag, and would
///     add "/min_time:..." to every name).
///   - `--benchmark_list_tests` works without a GPU (the names are registered as if cuDNN were there), so a
///     CPU-only machine can check the names tools/gpu_summary.py expects.
///   - Without a usable CUDA device it prints why on stderr and exits with 77 ("skipped").
///   - stdout is line-buffered, so `--benchmark_format=json > file` holds every finished benchmark even when the
///     process is killed; all other output goes to stderr.
///   - The JSON context records ichseg_device, ichseg_cudnn and ichseg_set.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "ichseg/core/tensor.hpp"
#include "ichseg/cuda/runtime.hpp"

namespace ichseg::bench {

void fill_uniform_on_device(float* x, int64_t n, uint64_t seed, uint64_t stream, float lo, float hi, bool mask,
                            float threshold, void* stream_handle);

/// A CUDA tensor with element i = lo + (hi - lo) * random_uniform(seed, stream, i), drawn on the device.
inline Tensor<float> device_uniform(const Shape& s, uint64_t seed, uint64_t stream, float lo = -1.f, float hi = 1.f) {
    Tensor<float> t = Tensor<float>::empty(s, Device::cuda());
    fill_uniform_on_device(t.data(), t.numel(), seed, stream, lo, hi, false, 0.f, cuda::stream_handle());
    return t;
}
/// A CUDA tensor with element i = 1 where random_uniform(seed, stream, i) > threshold, else 0.
inline Tensor<float> device_mask(const Shape& s, uint64_t seed, uint64_t stream, float threshold) {
    Tensor<float> t = Tensor<float>::empty(s, Device::cuda());
    fill_uniform_on_device(t.data(), t.numel(), seed, stream, 0.f, 1.f, true, threshold, cuda::stream_handle());
    return t;
}

/// Run `body` (which holds the benchmark loop); an exception (a CUDA error, a failed check) ends this benchmark
/// with Google Benchmark's error flag and message instead of ending the process.
template <class F>
void guarded(benchmark::State& state, F&& body) {
    try {
        body();
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

/// Register with `register_all(full, have_cudnn)`, run, return the process exit code (see the file comment).
inline int run_benchmarks(int argc, char** argv, const char* default_min_time,
                          const std::function<void(bool full, bool have_cudnn)>& register_all) {
    std::vector<char*> args;
    bool full = false, listing = false, min_time_given = false;
    for (int i = 0; i < argc; ++i) {
        if (i > 0 && std::strcmp(argv[i], "--full") == 0) {
            full = true;
            continue;
        }
        listing = listing || std::strncmp(argv[i], "--benchmark_list_tests", 22) == 0;
        min_time_given = min_time_given || std::strncmp(argv[i], "--benchmark_min_time", 20) == 0;
        args.push_back(argv[i]);
    }
    std::string min_time_flag = std::string("--benchmark_min_time=") + default_min_time;
    if (!min_time_given) args.push_back(min_time_flag.data());
    std::string why;
    bool have_cudnn = true;
    if (!listing) {
        if (cuda::device_count(&why) == 0) {
            std::fprintf(stderr, "SKIPPED: no CUDA device (%s)\n", why.c_str());
            return 77;
        }
        std::fprintf(stderr, "device: %s\n", cuda::device_description(0).c_str());
        have_cudnn = cuda::cudnn_available(&why);
        if (!have_cudnn) std::fprintf(stderr, "cuDNN not loadable, cuDNN baselines skipped: %s\n", why.c_str());
        benchmark::AddCustomContext("ichseg_device", cuda::device_description(0));
        benchmark::AddCustomContext("ichseg_cudnn", have_cudnn ? "available" : "unavailable: " + why);
    }
    benchmark::AddCustomContext("ichseg_set", full ? "full" : "compact");
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    register_all(full, have_cudnn);
    int n = static_cast<int>(args.size());
    args.push_back(nullptr);  // argv[argc] == nullptr, as for main()
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

}  // namespace ichseg::bench
