# Data-pipeline benchmark (DICOM read -> HU -> window -> augment -> resize; loader throughput). Needs the I/O layer.
if(ICHSEG_IO_ENABLED)
    add_executable(bench_data_pipeline bench_data_pipeline.cpp)
    target_link_libraries(bench_data_pipeline PRIVATE ichseg::io ichseg_internal_flags benchmark::benchmark)
endif()
