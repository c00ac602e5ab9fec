/// @file inspect.cpp
/// @brief ichseg_inspect: the first look at a scan. For a NIfTI file, a DICOM file or a folder of DICOM files it
/// prints JSON (shape, voxel spacing, affine, orientation, modality, the series chosen, HU min / max / mean,
/// warnings) and exits 0; on any problem it prints the error (naming the file) on stderr and exits 1. Any
/// modality is shown (MR, PET, ...), with "ct": false and a note that the pipeline takes CT only.
///   ichseg_inspect /data/ct-ich/ct_scans/049.nii
///   ichseg_inspect "/data/CQ500/CQ500CT1 CQ500CT1"
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "ichseg/io/inspect.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Print what ichseg reads from a NIfTI file, a DICOM file or a DICOM folder, as JSON"};
    std::string path;
    bool prefer_5mm = false;
    int indent = 2;
    app.add_option("path", path, "NIfTI file (.nii, .nii.gz), DICOM file, or folder of DICOM files")->required();
    app.add_flag("--prefer-5mm", prefer_5mm, "series rule: prefer the slice step closest to 5 mm instead of the thinnest");
    app.add_option("--indent", indent, "JSON indentation (-1: one line)");
    CLI11_PARSE(app, argc, argv);
    try {
        const nlohmann::json j = ichseg::io::inspect_path(path, !prefer_5mm);
        std::cout << j.dump(indent) << std::endl;
    } catch (const ichseg::Error& e) {
        std::fprintf(stderr, "ichseg_inspect: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ichseg_inspect: error: %s: %s\n", path.c_str(), e.what());
        return 1;
    }
    return 0;
}
