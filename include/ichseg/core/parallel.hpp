/// @file parallel.hpp
/// @brief Thread control and static-schedule parallel loops (OpenMP). With a fixed thread count, every loop
/// hands the same iterations to the same thread, which is what makes training bitwise reproducible.
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ichseg/core/error.hpp"

namespace ichseg {

namespace detail {
inline int& thread_setting() {
#ifdef _OPENMP
    static int n = omp_get_max_threads();
#else
    static int n = 1;
#endif
    return n;
}
}  // namespace detail

/// Threads used by ichseg's CPU kernels (default: OpenMP's default, i.e. OMP_NUM_THREADS or the core count).
inline int num_threads() { return detail::thread_setting(); }

/// Set the number of CPU threads; results are bitwise reproducible for a fixed value.
inline void set_num_threads(int n) {
    ICHSEG_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
    detail::thread_setting() = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

/// Index of the calling thread inside a parallel region (0 outside).
inline int thread_index() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/// Below this much work (roughly, element operations) a loop runs on the calling thread: waking the team costs
/// more than it saves, and on an oversubscribed machine every barrier can wait a full scheduler time slice.
constexpr int64_t kMinParallelWork = 1 << 15;

/// f(i) for i in [0, n), iterations split into contiguous equal blocks, block t on thread t. `work` (optional)
/// estimates the total cost in element operations; small loops stay on one thread.
template <class F>
void parallel_for(int64_t n, F&& f, int64_t work = -1) {
    if (n <= 0) return;
    const int nt = (work >= 0 && work < kMinParallelWork) ? 1 : static_cast<int>(std::min<int64_t>(num_threads(), n));
    if (nt <= 1) {
        for (int64_t i = 0; i < n; ++i) f(i);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt)
#endif
    for (int64_t i = 0; i < n; ++i) f(i);
}

/// f(t, begin, end) once per thread t in [0, parts) over a static split of [0, n); parts = min(threads, n).
/// Returns the number of parts used, so callers can reduce per-part results in a fixed order. `work` as for
/// parallel_for.
template <class F>
int parallel_chunks(int64_t n, F&& f, int64_t work = -1) {
    if (n <= 0) return 0;
    const int parts =
        (work >= 0 && work < kMinParallelWork) ? 1 : static_cast<int>(std::min<int64_t>(num_threads(), n));
    auto run = [&](int t) {
        const int64_t b = n * t / parts, e = n * (t + 1) / parts;
        f(t, b, e);
    };
    if (parts <= 1) {
        run(0);
        return 1;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static, 1) num_threads(parts)
#endif
    for (int t = 0; t < parts; ++t) run(t);
    return parts;
}

}  // namespace ichseg
