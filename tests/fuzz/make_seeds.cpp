// Writes the seed corpora of the fuzz targets: small valid NIfTI files (int16, float32 gzip, uint8 mask, scaled,
// sheared), DICOM images in every transfer syntax the reader decodes plus the RSNA quirk and a short PixelData,
// the layouts' CSV files (from the phantom layout writers), JPEG 2000 inputs of fuzz_jpeg2000 (header bytes +
// codestreams: 8 / 16 bits, signed / unsigned, lossless / lossy, 1..4 fragments) and model files (a tiny U-Net
// model, a safetensors file of every written dtype, metadata-only and empty ones). Usage: make_seeds <corpus root>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ichseg/io/phantom_layouts.hpp"
#include "ichseg/nn/model_info.hpp"

using namespace ichseg;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds <corpus root>\n");
        return 2;
    }
    const std::string root = argv[1];
    for (const char* d : {"nifti", "dicom", "csv", "jpeg2000", "model"}) fs::create_directories(root + "/" + d);
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
                                          io::DicomTransferSyntax::jpegls_lossless, io::DicomTransferSyntax::rle,
                                          io::DicomTransferSyntax::jpeg2000_lossless, io::DicomTransferSyntax::jpeg2000,
                                          io::DicomTransferSyntax::deflated};
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
    // JPEG 2000 codestreams for fuzz_jpeg2000: 4 header bytes (see fuzz_jpeg2000.cpp) + the codestream
    int nj = 0;
    for (int bits : {8, 12, 16})
        for (int sgn : {0, 1})
            for (double ratio : {0.0, 6.0}) {
                const int rows = 8 + 4 * (nj % 3), cols = 12 + 2 * (nj % 4);
                std::vector<int32_t> v(static_cast<size_t>(rows * cols));
                const int64_t lo = sgn ? -(int64_t(1) << (bits - 1)) : 0, hi = sgn ? -lo - 1 : (int64_t(1) << bits) - 1;
                for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int32_t>(lo + static_cast<int64_t>(i * 7919) % (hi - lo + 1));
                const auto cs = io::j2k::encode(v.data(), rows, cols, bits, sgn == 1, ratio);
                const int frags = 1 + nj % 4;
                std::string in;
                in.push_back(static_cast<char>(sgn | (bits == 8 ? 2 : 0) | (ratio > 0 ? 4 : 0) | ((frags - 1) << 3)));
                in.push_back(static_cast<char>(rows - 1));
                in.push_back(static_cast<char>(cols - 1));
                in.push_back(static_cast<char>(bits - 1));
                in.append(cs.begin(), cs.end());
                std::ofstream(root + "/jpeg2000/cs" + std::to_string(nj++) + ".bin", std::ios::binary) << in;
            }
    // Model files: a tiny U-Net model file (its state dict from nn::unet_state_shapes, as save_model writes it), a
    // file of every dtype the writer has, metadata only, empty
    {
        nn::ModelInfo info;
        info.unet.base_width = 2;
        info.unet.depth = 2;
        info.unet.mid_channels_factor = 1;
        info.input_size = 16;
        info.description = "fuzz seed";
        io::SafetensorsWriter model;
        int64_t fill = 0;
        for (const auto& [key, e] : nn::unet_state_shapes(info.unet)) {
            Tensor<float> t = Tensor<float>::empty(e.shape);
            for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(fill++ % 7) * 0.25f - 0.5f;
            model.add(key, t, e.dtype);
        }
        model.set_metadata("format", "pt");
        for (const auto& kv : nn::model_metadata(info)) model.set_metadata(kv.first, kv.second);
        model.write(root + "/model/tiny_unet.safetensors");
        io::SafetensorsWriter all;
        Tensor<float> t = Tensor<float>::empty({2, 3});
        for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i) - 2.5f;
        for (const char* d : {"F32", "F64", "BF16", "I64", "I32", "I16", "U8", "BOOL"}) all.add(std::string("t_") + d, t, d);
        all.add("scalar", Tensor<float>::empty({}));
        all.add("empty", Tensor<float>::empty({0, 4}));
        all.set_metadata("format", "pt");
        all.write(root + "/model/dtypes.safetensors");
        io::SafetensorsWriter meta;
        for (const auto& kv : nn::model_metadata(info)) meta.set_metadata(kv.first, kv.second);
        meta.write(root + "/model/metadata_only.safetensors");
        io::SafetensorsWriter().write(root + "/model/empty.safetensors");
        // Regression inputs: a float width (nlohmann converted 1e300 to int64 with undefined behaviour) and a tiny
        // file asking for the largest U-Net (load_model allocated it before comparing the tensors).
        for (const auto& [name, unet] : std::vector<std::pair<std::string, std::string>>{
                 {"regress_float_width", R"({"in_channels":1,"out_channels":1,"base_width":1e300,"depth":3,"mid_channels_factor":2})"},
                 {"regress_huge_unet", R"({"in_channels":1,"out_channels":1,"base_width":4096,"depth":8,"mid_channels_factor":2})"}}) {
            io::SafetensorsWriter r;
            for (const auto& kv : nn::model_metadata(info)) r.set_metadata(kv.first, kv.second);
            r.set_metadata("ichseg.unet", unet);
            r.write(root + "/model/" + name + ".safetensors");
        }
    }
    // CSV files of the four layouts (tiny trees in a scratch folder)
    const std::string tmp = root + "/.layouts";
    io::LayoutOptions o;
    o.count = 2;
    o.size = 16;
    o.slices = 3;
    io::write_physionet_layout(tmp + "/p", o);
    io::write_rsna_layout(tmp + "/r", o);
    io::write_cq500_layout(tmp + "/c", o);
    io::write_segcq500_layout(tmp + "/s", o);
    fs::copy_file(tmp + "/p/hemorrhage_diagnosis_raw_ct.csv", root + "/csv/diagnosis.csv", fs::copy_options::overwrite_existing);
    fs::copy_file(tmp + "/p/Patient_demographics.csv", root + "/csv/demographics.csv", fs::copy_options::overwrite_existing);
    fs::copy_file(tmp + "/r/stage_2_train.csv", root + "/csv/rsna.csv", fs::copy_options::overwrite_existing);
    fs::copy_file(tmp + "/c/reads.csv", root + "/csv/reads.csv", fs::copy_options::overwrite_existing);
    fs::copy_file(tmp + "/s/Seg-CQ500/data/volumes/info.csv", root + "/csv/info.csv", fs::copy_options::overwrite_existing);
    fs::remove_all(tmp);
    std::printf("seeds written under %s\n", root.c_str());
    return 0;
}
