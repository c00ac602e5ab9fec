// Writes the seed corpora of the fuzz targets: small valid NIfTI files (int16, float32 gzip, uint8 mask, scaled,
// sheared), DICOM images in every transfer syntax the reader decodes plus the RSNA quirk and a short PixelData,
// and the layouts' CSV files (from the phantom layout writers). Usage: make_seeds <corpus root>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ichseg/data/phantom_layouts.hpp"

using namespace ichseg;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds <corpus root>\n");
        return 2;
    }
    const std::string root = argv[1];
    for (const char* d : {"nifti", "dicom", "csv"}) fs::create_directories(root + "/" + d);
    io::set_log_level(io::LogLevel::off);
    // NIfTI
    io::Volume v = io::Volume::zeros(3, 6, 5, {0.5, 0.5, 5});
    for (int64_t i = 0; i < v.voxels.numel(); ++i) v.voxels.data()[i] = static_cast<float>(i * 13 % 900 - 400);
    io::write_nifti(root + "/nifti/int16.nii", v);
    io::NiftiWriteOptions f32;
    f32.dtype = io::NiftiDtype::float32;
    io::write_nifti(root + "/nifti/float32.nii.gz", v, f32);
    io::NiftiWriteOptions sc;
    sc.scl_slope = 0.5;
    sc.scl_inter = -1024;
    io::write_nifti(root + "/nifti/scaled.nii", v, sc);
    io::Mask m = v.like<uint8_t>();
    m.voxels.data()[7] = 1;
    io::write_nifti(root + "/nifti/mask.nii.gz", m);
    v.affine(1, 2) = 0.5;
    io::write_nifti(root + "/nifti/sheared.nii", v);
    // DICOM
    std::vector<float> px(64);
    for (int i = 0; i < 64; ++i) px[static_cast<size_t>(i)] = static_cast<float>(i * 37 % 1500 - 1000);
    const io::DicomTransferSyntax ts[] = {io::DicomTransferSyntax::explicit_le, io::DicomTransferSyntax::implicit_le,
                                          io::DicomTransferSyntax::explicit_be, io::DicomTransferSyntax::jpeg_lossless,
                                          io::DicomTransferSyntax::jpegls_lossless, io::DicomTransferSyntax::rle};
    int n = 0;
    for (auto t : ts) {
        io::DicomWriteSpec w;
        w.rows = w.cols = 8;
        w.series_uid = "1.2.3";
        w.sop_uid = "1.2.3." + std::to_string(n);
        w.transfer_syntax = t;
        w.window_center = {40, 400};
        io::write_dicom_slice(root + "/dicom/ts" + std::to_string(n++) + ".dcm", w, px.data());
    }
    io::DicomWriteSpec q;
    q.rows = q.cols = 8;
    q.rsna_quirk = true;
    io::write_dicom_slice(root + "/dicom/quirk.dcm", q, px.data());
    io::DicomWriteSpec s = q;
    s.rsna_quirk = false;
    s.pixel_count_override = 20;
    io::write_dicom_slice(root + "/dicom/short.dcm", s, px.data());
    s.pixel_count_override = -1;
    s.write_meta_header = false;
    io::write_dicom_slice(root + "/dicom/bare.dcm", s, px.data());
    // CSV files of the four layouts (tiny trees in a scratch folder)
    const std::string tmp = root + "/.layouts";
    data::LayoutOptions o;
    o.count = 2;
    o.size = 16;
    o.slices = 3;
    data::write_physionet_layout(tmp + "/p", o);
    data::write_rsna_layout(tmp + "/r", o);
    data::write_cq500_layout(tmp + "/c", o);
    data::write_segcq500_layout(tmp + "/s", o);
    fs::copy_file(tmp + "/p/hemorrhage_diagnosis_raw_ct.csv", root + "/csv/diagnosis.csv", fs::copy_options::overwrite_existing);
    fs::copy_file(tmp + "/p/Patient_demographics.csv", root + "/csv/demographics.csv", fs::copy_options::overwrite_existing);
    fs::copy_file(tmp + "/r/stage_2_train.csv", root + "/csv/rsna.csv", fs::copy_options::overwrite_existing);
    fs::copy_file(tmp + "/c/reads.csv", root + "/csv/reads.csv", fs::copy_options::overwrite_existing);
    fs::copy_file(tmp + "/s/Seg-CQ500/data/volumes/info.csv", root + "/csv/info.csv", fs::copy_options::overwrite_existing);
    fs::remove_all(tmp);
    std::printf("seeds written under %s\n", root.c_str());
    return 0;
}
