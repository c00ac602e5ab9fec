# ICHSEG_FLOAT = ON | OFF: target ichseg::float, the float instantiations of the library's templates (the module
# classes, both levels of every op and loss, Adam, the heavy CPU kernels), compiled once from src/ichseg_float.cpp.
# A program that links it compiles the headers with ICHSEG_EXTERN_TEMPLATES=1, so these templates are declared
# `extern template` there and taken from the library: a program that includes ichseg/ichseg.hpp and trains a
# UNet<float> compiles several times faster (docs/performance.md). A program that links only ichseg::ichseg is
# unchanged (header-only). include/ichseg/config.hpp describes the scheme.
#
# The library's kernels are compiled once, with the project's flags: -march=native when ICHSEG_NATIVE_ARCH is ON.
# The flag is then passed on to the programs that link ichseg::float, so that the inline functions they compile
# themselves and the library's copies are built for one instruction set (the linker keeps one copy of each; with
# two instruction sets it could pick the wrong one). Configure with -DICHSEG_NATIVE_ARCH=OFF for a portable library.
# When the CUDA backend is built, ichseg::float is compiled with its dispatch and links ichseg::cuda.
# Default ON when ichseg is the top-level project (it is then installed with the package), OFF under
# add_subdirectory, where a parent that wants it sets ICHSEG_FLOAT=ON.
option(ICHSEG_FLOAT "Build ichseg::float, the compiled float instantiations (faster builds of programs that link it)"
       ${ICHSEG_TOP_LEVEL})
set(ICHSEG_FLOAT_ENABLED OFF)
if(ICHSEG_FLOAT)
    set(ICHSEG_FLOAT_ENABLED ON)
    add_library(ichseg_float STATIC ${CMAKE_CURRENT_SOURCE_DIR}/src/ichseg_float.cpp)
    add_library(ichseg::float ALIAS ichseg_float)
    set_target_properties(ichseg_float PROPERTIES EXPORT_NAME float POSITION_INDEPENDENT_CODE ON)
    target_link_libraries(ichseg_float PUBLIC ichseg PRIVATE $<BUILD_INTERFACE:ichseg_internal_flags>)
    target_compile_definitions(ichseg_float PUBLIC ICHSEG_EXTERN_TEMPLATES=1)
    if(ICHSEG_NATIVE_ARCH)
        target_compile_options(ichseg_float INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
    endif()
    if(ICHSEG_CUDA_ENABLED AND TARGET ichseg_cuda)
        target_link_libraries(ichseg_float PUBLIC ichseg_cuda)
    endif()
endif()
