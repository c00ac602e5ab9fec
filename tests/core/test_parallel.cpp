/// @file test_parallel.cpp
/// @brief Thread control: set_num_threads, the static split of parallel_for / parallel_chunks (every index
/// exactly once, contiguous blocks, block t on thread t) that makes results reproducible.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "support/errors.hpp"

using namespace ichseg;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_parallel {

namespace {
struct ThreadRestore {
    int saved = num_threads();
    ~ThreadRestore() { set_num_threads(saved); }
};
}  // namespace

TEST_CASE("set_num_threads sets num_threads and rejects values below 1", "[core][parallel]") {
    ThreadRestore restore;
    set_num_threads(3);
    CHECK(num_threads() == 3);
    set_num_threads(1);
    CHECK(num_threads() == 1);
    ICHSEG_REQUIRE_ERROR(set_num_threads(0), {"set_num_threads", "0"});
    CHECK(num_threads() == 1);  // unchanged by the failed call
}

TEST_CASE("parallel_for visits every index exactly once for any n and thread count", "[core][parallel]") {
    ThreadRestore restore;
    for (int nt : {1, 2, 3, 8})
        for (int64_t n : {0, 1, 2, 7, 1000}) {
            set_num_threads(nt);
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            parallel_for(n, [&](int64_t i) { hits[static_cast<size_t>(i)]++; });
            for (auto& h : hits) REQUIRE(h.load() == 1);
        }
}

TEST_CASE("parallel_chunks splits 0..n-1 into min(threads, n) contiguous blocks, block t on thread t",
          "[core][parallel]") {
    ThreadRestore restore;
    for (int nt : {1, 2, 4})
        for (int64_t n : {1, 3, 10, 101}) {
            set_num_threads(nt);
            std::mutex mu;
            std::vector<std::pair<int64_t, int64_t>> blocks(static_cast<size_t>(nt), {-1, -1});
            std::set<int> thread_ids;
            const int parts = parallel_chunks(n, [&](int t, int64_t b, int64_t e) {
                std::lock_guard<std::mutex> lock(mu);
                blocks[static_cast<size_t>(t)] = {b, e};
                thread_ids.insert(thread_index());
            });
            REQUIRE(parts == static_cast<int>(std::min<int64_t>(nt, n)));
            int64_t next = 0;
            for (int t = 0; t < parts; ++t) {
                INFO("threads " << nt << " n " << n << " part " << t);
                REQUIRE(blocks[static_cast<size_t>(t)].first == next);  // contiguous, in order
                REQUIRE(blocks[static_cast<size_t>(t)].second >= next);
                // equal split: sizes differ by at most one
                const int64_t len = blocks[static_cast<size_t>(t)].second - next;
                REQUIRE(len >= n / parts);
                REQUIRE(len <= n / parts + 1);
                next = blocks[static_cast<size_t>(t)].second;
            }
            REQUIRE(next == n);
#ifdef _OPENMP
            CHECK(thread_ids.size() == static_cast<size_t>(parts));  // one OpenMP thread per part
#endif
        }
    CHECK(parallel_chunks(0, [](int, int64_t, int64_t) { FAIL("called for n = 0"); }) == 0);
}

}  // namespace test_parallel
