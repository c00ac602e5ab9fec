# GPU benchmarks (Google Benchmark; GPU time from CUDA events, reported as manual time). Included from
# benchmarks/CMakeLists.txt when the CUDA backend is built. The PyTorch side of every workload is in
# reference/gpu_*.py; tools/gpu_verify.sh runs both in one session on the same GPU.
foreach(b IN ITEMS bench_cuda_layers bench_cuda_train_step bench_cuda_losses)
    add_executable(${b} ${b}.cpp)
    target_link_libraries(${b} PRIVATE ichseg::cuda ichseg_internal_flags benchmark::benchmark)
endforeach()
