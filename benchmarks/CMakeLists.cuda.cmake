# GPU benchmarks (Google Benchmark; GPU time from CUDA events, reported as manual time). Included from
# benchmarks/CMakeLists.txt when the CUDA backend is built. The PyTorch side of every workload is in
# reference/gpu_*.py; tools/gpu_verify.sh runs both in one session on the same GPU.
# bench_cuda_inputs.cu (inputs drawn on the GPU) is its own library: nvcc does not take the C++ warning flags of
# ichseg_internal_flags.
add_library(ichseg_bench_cuda_inputs STATIC bench_cuda_inputs.cu)
target_link_libraries(ichseg_bench_cuda_inputs PUBLIC ichseg::cuda)
set_target_properties(ichseg_bench_cuda_inputs PROPERTIES CUDA_STANDARD 17)
foreach(b IN ITEMS bench_cuda_layers bench_cuda_train_step bench_cuda_losses)
    add_executable(${b} ${b}.cpp)
    target_link_libraries(${b} PRIVATE ichseg_bench_cuda_inputs ichseg::cuda ichseg_internal_flags benchmark::benchmark)
endforeach()
