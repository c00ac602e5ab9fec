# FindOpenJP2: locate OpenJPEG's JPEG 2000 codec library (libopenjp2, Debian package libopenjp2-7-dev) directly.
# Debian 12's own OpenJPEGConfig.cmake imports the JPIP tools and servers too, which are not installed with the
# -dev package, so every configure prints errors about missing files; this module avoids it.
# Defines the imported target OpenJP2::openjp2, OpenJP2_FOUND and OpenJP2_VERSION.
find_path(OpenJP2_INCLUDE_DIR openjpeg.h PATH_SUFFIXES openjpeg-2.5 openjpeg-2.4 openjpeg-2.3)
find_library(OpenJP2_LIBRARY openjp2)
if(OpenJP2_INCLUDE_DIR AND EXISTS "${OpenJP2_INCLUDE_DIR}/opj_config.h")
    file(STRINGS "${OpenJP2_INCLUDE_DIR}/opj_config.h" _opj_ver REGEX "#define OPJ_VERSION_(MAJOR|MINOR|BUILD)")
    string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*BUILD ([0-9]+).*" "\\1.\\2.\\3" OpenJP2_VERSION "${_opj_ver}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenJP2 REQUIRED_VARS OpenJP2_INCLUDE_DIR OpenJP2_LIBRARY VERSION_VAR OpenJP2_VERSION)
if(OpenJP2_FOUND AND NOT TARGET OpenJP2::openjp2)
    add_library(OpenJP2::openjp2 INTERFACE IMPORTED)
    set_target_properties(OpenJP2::openjp2 PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${OpenJP2_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES "${OpenJP2_LIBRARY}")
endif()
mark_as_advanced(OpenJP2_INCLUDE_DIR OpenJP2_LIBRARY)
