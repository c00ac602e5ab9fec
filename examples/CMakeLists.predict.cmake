# Prediction programs (docs/predict.md): ichseg_predict (CLI over include/ichseg/predict/) and the few-line API
# example ichseg_segment_api. Need the NIfTI/DICOM layer; ichseg_predict also needs CLI11.
if(ICHSEG_IO_ENABLED)
    add_executable(ichseg_segment_api segment_api.cpp)
    target_link_libraries(ichseg_segment_api PRIVATE ichseg::io ichseg_internal_flags)
    if(CLI11_FOUND)
        add_executable(ichseg_predict predict.cpp)
        target_link_libraries(ichseg_predict PRIVATE ichseg::io CLI11::CLI11 ichseg_internal_flags)
    else()
        message(STATUS "ichseg: ichseg_predict not built (CLI11 not found)")
    endif()
else()
    message(STATUS "ichseg: ichseg_predict / ichseg_segment_api not built (no NIfTI/DICOM layer)")
endif()
