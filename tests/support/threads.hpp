/// @file threads.hpp
/// @brief Runs a test scope on a given number of CPU threads and restores the previous count afterwards. Tests run
/// on one thread by default (support/main.cpp), so a test of a multi-threaded code path sets the count itself.
#pragma once

#include "ichseg/core/parallel.hpp"

namespace ichseg::test {

struct ScopedThreads {
    explicit ScopedThreads(int n) : saved(num_threads()) { set_num_threads(n); }
    ~ScopedThreads() { set_num_threads(saved); }
    ScopedThreads(const ScopedThreads&) = delete;
    ScopedThreads& operator=(const ScopedThreads&) = delete;
    int saved;
};

}  // namespace ichseg::test
