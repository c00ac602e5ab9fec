/// @file main.cpp (tests/cuda)
/// @brief Entry point of the [cuda] test executables. Without a usable CUDA device it prints why and exits with
/// 77, which CTest reports as "Skipped" (SKIP_RETURN_CODE 77): a GPU test that cannot run is never reported as
/// passed. Built with ICHSEG_CUDA_TEST_NEEDS_CUDNN=1 it also skips when libcudnn cannot be loaded (the cuDNN
/// oracle tests). Listing the tests (CTest discovery at build time) needs no device.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <string>

#include "ichseg/cuda/runtime.hpp"

#ifndef ICHSEG_CUDA_TEST_NEEDS_CUDNN
#define ICHSEG_CUDA_TEST_NEEDS_CUDNN 0
#endif

int main(int argc, char* argv[]) {
    bool listing = false;
    for (int i = 1; i < argc; ++i) listing = listing || std::strncmp(argv[i], "--list", 6) == 0;
    if (!listing) {
        std::string why;
        if (ichseg::cuda::device_count(&why) == 0) {
            std::printf("SKIPPED: ichseg [cuda] tests need a CUDA device: %s\n", why.c_str());
            return 77;
        }
        if (ICHSEG_CUDA_TEST_NEEDS_CUDNN && !ichseg::cuda::cudnn_available(&why)) {
            std::printf("SKIPPED: ichseg cuDNN oracle tests need libcudnn: %s\n", why.c_str());
            return 77;
        }
        std::printf("ichseg [cuda] tests on %s\n", ichseg::cuda::device_description(0).c_str());
    }
    return Catch::Session().run(argc, argv);
}
