# ICHSEG_IO = AUTO | ON | OFF: the NIfTI (nifticlib) and DICOM (DCMTK; OpenJPEG for JPEG 2000) layer, target
# ichseg::io. AUTO enables it when the libraries are found and says loudly when it is left out.
set(ICHSEG_IO_ENABLED OFF)
if(NOT ICHSEG_IO STREQUAL "OFF")
    find_package(DCMTK CONFIG QUIET)
    find_package(ZLIB QUIET)
    find_package(NIfTIlib QUIET)
    find_package(OpenJP2 QUIET)
    if(DCMTK_FOUND AND NIfTIlib_FOUND AND ZLIB_FOUND AND OpenJP2_FOUND)
        set(ICHSEG_IO_ENABLED ON)
    elseif(ICHSEG_IO STREQUAL "ON")
        message(FATAL_ERROR "ICHSEG_IO=ON but DCMTK (${DCMTK_FOUND}), nifticlib (${NIfTIlib_FOUND}) or OpenJPEG "
                            "(${OpenJP2_FOUND}) was not found; install libdcmtk-dev libniftiio-dev libnifti2-dev "
                            "libznz-dev zlib1g-dev libopenjp2-7-dev")
    else()
        message(WARNING "ichseg: DCMTK, nifticlib or OpenJPEG not found: building without the NIfTI/DICOM layer "
                        "(ichseg::io)")
    endif()
endif()
if(ICHSEG_IO_ENABLED)
    add_library(ichseg_io INTERFACE)
    add_library(ichseg::io ALIAS ichseg_io)
    set_target_properties(ichseg_io PROPERTIES EXPORT_NAME io)
    target_link_libraries(ichseg_io INTERFACE ichseg DCMTK::dcmdata DCMTK::dcmimgle DCMTK::dcmjpeg DCMTK::dcmjpls
                                              DCMTK::dcmseg DCMTK::dcmiod DCMTK::dcmfg NIfTIlib::niftiio ZLIB::ZLIB
                                              OpenJP2::openjp2)
    target_compile_definitions(ichseg_io INTERFACE ICHSEG_WITH_IO=1)
endif()
