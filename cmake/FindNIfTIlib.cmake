# FindNIfTIlib: locate nifticlib (NIfTI-1 I/O) directly. Debian 12's own NIFTI CMake config points at
# /usr/lib/libniftiio.so.* although the libraries live in /usr/lib/<multiarch>/, so it cannot be used.
# Defines the imported target NIfTIlib::niftiio (with znz, zlib and libm) and NIfTIlib_FOUND.
find_path(NIfTIlib_INCLUDE_DIR nifti1_io.h PATH_SUFFIXES nifti)
find_library(NIfTIlib_NIFTIIO_LIBRARY niftiio)
find_library(NIfTIlib_ZNZ_LIBRARY znz)
find_package(ZLIB QUIET)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NIfTIlib REQUIRED_VARS NIfTIlib_INCLUDE_DIR NIfTIlib_NIFTIIO_LIBRARY
                                  NIfTIlib_ZNZ_LIBRARY ZLIB_FOUND)
if(NIfTIlib_FOUND AND NOT TARGET NIfTIlib::niftiio)
    add_library(NIfTIlib::niftiio INTERFACE IMPORTED)
    set_target_properties(NIfTIlib::niftiio PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${NIfTIlib_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES "${NIfTIlib_NIFTIIO_LIBRARY};${NIfTIlib_ZNZ_LIBRARY};ZLIB::ZLIB;m")
endif()
mark_as_advanced(NIfTIlib_INCLUDE_DIR NIfTIlib_NIFTIIO_LIBRARY NIfTIlib_ZNZ_LIBRARY)
