/// @file io_peer_tool.cpp (tests/io/peers)
/// @brief What ichseg reads, for the Python peer tests (pydicom, dcm2niix, nibabel): header facts and the affine as
/// JSON on stdout, voxels as raw little-endian float32 in ichseg's order (nz, ny, nx). And a writer, so that peers
/// read files ichseg wrote. Errors: the ichseg::Error text on stderr, exit 1.
///   io_peer_tool slice FILE OUT.f32 [--any-modality]
///   io_peer_tool series FOLDER OUT_PREFIX [--allow-missing] [--allow-uneven]   (OUT_PREFIX<i>.f32 per series)
///   io_peer_tool nifti FILE OUT.f32
///   io_peer_tool write OUT.dcm SPEC.json VALUES.f32   (HU values, rows x cols; SPEC: DicomWriteSpec fields)
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ichseg/io/dicom.hpp"
#include "ichseg/io/nifti.hpp"

using namespace ichseg;
using json = nlohmann::json;

namespace {

json affine_json(const io::Affine& a) {
    json m = json::array();
    for (int r = 0; r < 4; ++r) m.push_back({a(r, 0), a(r, 1), a(r, 2), a(r, 3)});
    return m;
}

void write_f32(const std::string& path, const float* p, size_t n) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n * sizeof(float)));
    if (!f) fail(path, ": cannot write");
}

bool has(int argc, char** argv, const char* flag) {
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == flag) return true;
    return false;
}

io::DicomTransferSyntax syntax(const std::string& s) {
    static const std::pair<const char*, io::DicomTransferSyntax> names[] = {
        {"explicit_le", io::DicomTransferSyntax::explicit_le},   {"implicit_le", io::DicomTransferSyntax::implicit_le},
        {"explicit_be", io::DicomTransferSyntax::explicit_be},   {"jpeg_lossless", io::DicomTransferSyntax::jpeg_lossless},
        {"jpegls_lossless", io::DicomTransferSyntax::jpegls_lossless}, {"rle", io::DicomTransferSyntax::rle},
        {"jpeg2000_lossless", io::DicomTransferSyntax::jpeg2000_lossless},
        {"jpeg2000", io::DicomTransferSyntax::jpeg2000},         {"deflated", io::DicomTransferSyntax::deflated},
        {"jpeg_baseline", io::DicomTransferSyntax::jpeg_baseline}, {"jpeg_extended", io::DicomTransferSyntax::jpeg_extended}};
    for (const auto& n : names)
        if (s == n.first) return n.second;
    fail("unknown transfer syntax name '", s, "'");
}

int run(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: io_peer_tool slice|series|nifti|write ...\n");
        return 2;
    }
    io::set_log_level(io::LogLevel::off);
    const std::string cmd = argv[1];
    json out;
    if (cmd == "slice") {
        io::DicomReadOptions o;
        o.require_ct = !has(argc, argv, "--any-modality");
        const io::DicomSlice s = io::read_dicom_slice(argv[2], o);
        write_f32(argv[3], s.hu.data(), s.hu.size());
        const auto& h = s.header;
        out = {{"rows", h.rows}, {"cols", h.cols}, {"modality", h.modality},
               {"transfer_syntax_uid", h.transfer_syntax_uid}, {"bits_allocated", h.bits_allocated},
               {"bits_stored", h.bits_stored}, {"pixel_representation", h.pixel_representation},
               {"rescale_slope", h.rescale_slope}, {"rescale_intercept", h.rescale_intercept},
               {"rsna_fix_applied", s.rsna_fix_applied}};
    } else if (cmd == "series") {
        io::ScanOptions so;
        std::vector<io::Skipped> skipped;
        const auto all = io::scan_dicom_folder(argv[2], so, &skipped);
        io::SeriesReadOptions ro;
        ro.allow_missing_slices = has(argc, argv, "--allow-missing");
        ro.allow_uneven_spacing = has(argc, argv, "--allow-uneven");
        out = json::array();
        for (size_t i = 0; i < all.size(); ++i) {
            const io::DicomSeries& s = all[i];
            json j = {{"series_uid", s.series_uid}, {"description", s.series_description}, {"slices", s.size()},
                      {"missing", s.missing}, {"uneven", s.uneven}, {"step", s.step},
                      {"dropped", s.dropped.size()}};
            try {
                const io::Volume v = io::read_dicom_series(s, ro);
                const std::string f = std::string(argv[3]) + std::to_string(i) + ".f32";
                write_f32(f, v.voxels.data(), static_cast<size_t>(v.voxels.numel()));
                j["voxels"] = f;
                j["shape"] = {v.nx(), v.ny(), v.nz()};
                j["affine"] = affine_json(v.affine);
                j["files"] = v.source.files;
            } catch (const Error& e) {
                j["error"] = e.what();
            }
            out.push_back(j);
        }
    } else if (cmd == "nifti") {
        io::NiftiHeaderInfo h;
        const io::Volume v = io::read_nifti(argv[2], {}, &h);
        write_f32(argv[3], v.voxels.data(), static_cast<size_t>(v.voxels.numel()));
        out = {{"shape", {v.nx(), v.ny(), v.nz()}}, {"affine", affine_json(v.affine)},
               {"qform_code", h.qform_code},        {"sform_code", h.sform_code},
               {"datatype", h.datatype_name},       {"warnings", v.source.warnings}};
    } else if (cmd == "write" && argc >= 5) {
        std::ifstream sf(argv[3]);
        const json sp = json::parse(sf);
        io::DicomWriteSpec w;
        w.rows = sp.at("rows");
        w.cols = sp.at("cols");
        w.modality = sp.value("modality", std::string("CT"));
        w.bits_allocated = sp.value("bits_allocated", 16);
        w.bits_stored = sp.value("bits_stored", 16);
        w.pixel_representation = sp.value("pixel_representation", 1);
        w.rescale_slope = sp.value("slope", 1.0);
        w.rescale_intercept = sp.value("intercept", -1024.0);
        w.transfer_syntax = syntax(sp.value("transfer_syntax", std::string("explicit_le")));
        w.fragments = sp.value("fragments", 1);
        w.j2k_ratio = sp.value("j2k_ratio", 0.0);
        w.sop_uid = io::make_dicom_uid(static_cast<uint64_t>(w.rows) * 7919u + static_cast<uint64_t>(w.bits_stored),
                                       std::hash<std::string>{}(argv[2]));
        w.series_uid = sp.value("series_uid", std::string("1.2.826.0.1.3680043.2.1125.55"));
        w.study_uid = sp.value("study_uid", std::string("1.2.826.0.1.3680043.2.1125.56"));
        w.patient_id = "PEER";
        std::vector<float> hu(static_cast<size_t>(w.rows * w.cols));
        std::ifstream vf(argv[4], std::ios::binary);
        vf.read(reinterpret_cast<char*>(hu.data()), static_cast<std::streamsize>(hu.size() * sizeof(float)));
        if (!vf) fail(argv[4], ": fewer than rows x cols float32 values");
        io::write_dicom_slice(argv[2], w, hu.data());
        out = {{"written", argv[2]}};
    } else {
        std::fprintf(stderr, "io_peer_tool: unknown command '%s'\n", cmd.c_str());
        return 2;
    }
    std::cout << out.dump() << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
