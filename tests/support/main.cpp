/// @file main.cpp (tests)
/// @brief Catch2 entry point of the CPU test executables. Tests run on 1 thread unless ICHSEG_TEST_THREADS says
/// otherwise: CTest runs test processes in parallel (-j), and more threads than cores makes every OpenMP
/// barrier wait for a scheduler time slice. Tests of thread-count behaviour set the count themselves.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include "ichseg/core/parallel.hpp"

int main(int argc, char* argv[]) {
    const char* env = std::getenv("ICHSEG_TEST_THREADS");
    ichseg::set_num_threads(env ? std::atoi(env) : 1);
    return Catch::Session().run(argc, argv);
}
