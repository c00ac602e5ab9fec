/// @file segment_api.cpp
/// @brief The C++ prediction API in a few lines: load a model (and optionally the two ICM models), segment a CT
/// volume, use the report, write the mask. Build target `ichseg_segment_api`:
///   ichseg_segment_api ich.safetensors scan.nii.gz mask.nii.gz [icm_tissue.safetensors icm_bone.safetensors]
#include <cstdio>

#include "ichseg/io/nifti.hpp"
#include "ichseg/predict/segmenter.hpp"

int main(int argc, char** argv) {
    if (argc != 4 && argc != 6) {
        std::fprintf(stderr, "usage: %s MODEL CT.nii[.gz] OUT_MASK.nii.gz [ICM_TISSUE ICM_BONE]\n", argv[0]);
        return 2;
    }
    try {
        ichseg::Segmenter seg(argv[1], argc == 6 ? argv[4] : "", argc == 6 ? argv[5] : "");
        const ichseg::io::Volume ct = ichseg::io::read_nifti(argv[2]);
        const auto result = seg.segment(ct, [](const ichseg::predict::Progress& p) {
            std::fprintf(stderr, "\r%s %lld/%lld", p.stage.c_str(), (long long)p.done, (long long)p.total);
        });
        std::fprintf(stderr, "\n");
        const auto& r = result.report;
        std::printf("hemorrhage: %.2f mL on %lld slice(s), largest axial extent %.1f mm (slice %lld)\n", r.volume_ml,
                    (long long)r.slices_involved, r.largest_axial_extent_mm, (long long)r.largest_axial_extent_slice);
        ichseg::io::write_nifti(argv[3], result.mask);  // uint8, source affine (replaces an existing file)
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
