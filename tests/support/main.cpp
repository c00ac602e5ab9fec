/// @file main.cpp (tests)
/// @brief Catch2 entry point of the CPU test executables. Tests run with 2 threads unless ICHSEG_TEST_THREADS
/// says otherwise, so results are reproducible.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include "ichseg/core/parallel.hpp"

int main(int argc, char* argv[]) {
    const char* env = std::getenv("ICHSEG_TEST_THREADS");
    ichseg::set_num_threads(env ? std::atoi(env) : 2);
    return Catch::Session().run(argc, argv);
}
