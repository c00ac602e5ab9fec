# The study driver (needs the NIfTI/DICOM layer for the dataset layouts, zlib for the PNG figures, and CLI11).
if(ICHSEG_IO_ENABLED AND CLI11_FOUND)
    find_package(ZLIB REQUIRED)
    add_executable(ichseg_reproduce reproduce.cpp)
    target_link_libraries(ichseg_reproduce PRIVATE ichseg::io ZLIB::ZLIB CLI11::CLI11 ichseg_internal_flags)
    # With the CUDA backend the study trains on the GPU when one is present (--device auto|cpu|cuda).
    if(ICHSEG_CUDA_ENABLED AND TARGET ichseg::cuda)
        target_link_libraries(ichseg_reproduce PRIVATE ichseg::cuda)
    endif()
else()
    message(STATUS "ichseg: ichseg_reproduce not built (needs the NIfTI/DICOM layer and CLI11)")
endif()
