# Data-pipeline benchmark (DICOM read -> HU -> window -> augment -> resize; loader throughput). Needs the I/O layer.
if(ICHSEG_IO_ENABLED)
    add_executable(bench_data_pipeline bench_data_pipeline.cpp)
    target_link_libraries(bench_data_pipeline PRIVATE ichseg::io ichseg_internal_flags benchmark::benchmark)
endif()
# End-to-end prediction of a 512 x 512 x 40 volume (read NIfTI -> preprocess -> paper U-Net -> write); docs/performance.md.
if(ICHSEG_IO_ENABLED)
    add_executable(bench_predict bench_predict.cpp)
    target_link_libraries(bench_predict PRIVATE ichseg::io ichseg_internal_flags benchmark::benchmark)
    if(ICHSEG_CUDA_ENABLED AND TARGET ichseg::cuda)
        target_link_libraries(bench_predict PRIVATE ichseg::cuda)  # the networks run on the GPU when one is present
    endif()
endif()
