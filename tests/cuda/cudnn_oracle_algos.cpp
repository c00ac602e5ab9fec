/// @file cudnn_oracle_algos.cpp (tests/cuda)
/// @brief Linked into the executables that use cuDNN as the accuracy oracle (test_cuda_cudnn,
/// test_cuda_cudnn_step): before the first test runs, the cuDNN backend is restricted to the algorithms that
/// sum products of the untransformed operands (cuda::CudnnAlgos::Direct). cudnnFind ranks by speed only and may
/// return an FFT or Winograd algorithm, whose FP32 rounding error can exceed the FP32 oracle tolerance
/// (1e-5 x max|ref|, cuda_support.hpp); then the test would fail for cuDNN's error, not ichseg's.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "ichseg/cuda/runtime.hpp"

namespace {
struct CudnnOracleAlgorithms : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void testRunStarting(Catch::TestRunInfo const& info) override {
        ichseg::cuda::set_cudnn_algos(ichseg::cuda::CudnnAlgos::Direct);
        TestEventListenerBase::testRunStarting(info);
    }
};
}  // namespace
CATCH_REGISTER_LISTENER(CudnnOracleAlgorithms)
