/// @file phantom_layouts.hpp
/// @brief Write synthetic head-CT phantoms (data/phantom.hpp) in the four published dataset layouts, so every
/// loader (io/datasets/) is exercised exactly as on real data (tests, demo, the study's quick reproduction).
/// Part of the data layer: it generates phantoms and writes them with the io layer's NIfTI and DICOM writers.
///
///  * `write_physionet_layout`: ct_scans/NNN.nii (int16 HU), masks/NNN.nii (uint8), patient numbers 049.. with
///    59..65 absent, hemorrhage_diagnosis_raw_ct.csv (one row per slice), Patient_demographics.csv with two header
///    rows, a quoted multi-line header cell ("Age\n(years)") and two footer lines.
///  * `write_rsna_layout`: `count` studies of `slices` slices, one DICOM per slice named ID_<9 hex>.dcm with only
///    the attributes the RSNA files carry (no SliceThickness / InstanceNumber), signed and unsigned storage, and,
///    with `quirks`: one multi-valued WindowCenter/Width, one 12-bit quirk slice, one implicit-VR file, and the
///    corrupt ID_6431af929.dcm (short PixelData, labelled in the CSV); stage_2_train.csv in long format with one
///    duplicated row.
///  * `write_cq500_layout`: per patient "CQ500CT<n> CQ500CT<n>/Unknown Study/CT PLAIN THIN" (JPEG lossless,
///    `2 * slices` slices at spacing / 2) and "CT Plain" (thick: pairs averaged); with `quirks` also a localizer
///    inside the thin series, a bone-kernel thin series and a post-contrast series for the first patient, and
///    the second half of the patients under a batch folder qct01/; file names do not follow slice order;
///    reads.csv with the exact 3-reader header, each finding disagreeing in at most one reader.
///  * `write_segcq500_layout`: Seg-CQ500/data/volumes/info.csv and CQ500-CT-<n>/{CT.nii, ICH_mask.nii.gz,
///    brain.nii.gz}; every case has ICH; with `quirks` the second case has a 5 deg gantry tilt (sheared sform,
///    qform_code 0).
/// Each writer returns a manifest with the labels it wrote, derived from the phantom masks.
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/data/phantom.hpp"
#include "ichseg/data/random.hpp"
#include "ichseg/io/dicom.hpp"
#include "ichseg/io/files.hpp"
#include "ichseg/io/labels.hpp"
#include "ichseg/io/nifti.hpp"

namespace ichseg::data {

struct LayoutOptions {
    int64_t count = 4;          ///< volumes (PhysioNet, CQ500, Seg-CQ500) or studies (RSNA)
    int64_t size = 64;          ///< in-plane pixels
    int64_t slices = 6;         ///< slices per volume (CQ500 thin series: twice as many)
    double spacing = 5.0;       ///< mm between slices; 0 = drawn per case (PhantomParams::slice_spacing; not
                                ///< for the CQ500 layout, whose thick series averages pairs of thin slices)
    uint64_t seed = 1;
    double ich_fraction = 0.5;  ///< share of volumes with ICH (ignored by Seg-CQ500: all have ICH)
    bool quirks = true;         ///< include the real layouts' oddities (see the file comment)
    double fov_mm = 0;          ///< reconstruction field of view (mm) of every phantom; 0 = the phantom's random
                                ///< U(200, 260) mm (PhantomParams::fov_mm)
    double lesion_scale = 1.0;  ///< PhantomParams::lesion_scale (1 = clinical size ranges)
    bool slab_anywhere = false; ///< PhantomParams::slab_anywhere (slabs at every level of the head)
    int64_t first_number = 10;  ///< Seg-CQ500 layout: case c is CQ500-CT-<first_number + 7c>
};

struct WrittenCase {
    std::string id;
    IchLabels labels;
    std::vector<IchLabels> slice_labels;
    int64_t nz = 0;
    std::vector<std::string> files;
};

struct LayoutManifest {
    std::string root;
    std::vector<WrittenCase> cases;       ///< RSNA: one per image (slice), in writing order
    std::vector<std::string> special;     ///< RSNA: ids of the quirk files: multi-window, 12-bit, implicit, corrupt
};

namespace detail {

/// Which of `count` cases have ICH: round(count * fraction) of them, spread by a seeded shuffle.
inline std::vector<int> ich_plan(int64_t count, double fraction, uint64_t seed) {
    const int64_t k = std::clamp<int64_t>(static_cast<int64_t>(std::llround(count * fraction)), 0, count);
    std::vector<int> v(static_cast<size_t>(count), 0);
    for (int64_t i = 0; i < k; ++i) v[static_cast<size_t>(i)] = 1;
    Rng rng(seed, stream_id(0x1c4, 7));
    for (int64_t i = count - 1; i > 0; --i) std::swap(v[static_cast<size_t>(i)], v[static_cast<size_t>(rng.randint(0, i))]);
    return v;
}

inline Phantom case_phantom(const LayoutOptions& o, int64_t index, int ich, uint64_t layout_tag,
                                  int64_t slices, double spacing, double tilt = 0) {
    PhantomParams p;
    p.size = o.size;
    p.slices = slices;
    p.slice_spacing = spacing;
    p.ich = ich;
    p.gantry_tilt_deg = tilt;
    p.fov_mm = o.fov_mm;
    p.lesion_scale = o.lesion_scale;
    p.slab_anywhere = o.slab_anywhere;
    return generate_phantom(p, mix64(o.seed ^ stream_id(layout_tag, static_cast<uint64_t>(index))));
}

inline std::string hex(Rng& rng, int digits) {
    static const char* h = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < digits; ++i) s.push_back(h[rng.u32() & 15u]);
    return s;
}

/// Create folder `dir` (and its parents) and start the manifest of a tree rooted at `root`.
inline LayoutManifest begin_layout(const std::string& dir, const std::string& root) {
    io::make_dirs(dir);
    LayoutManifest man;
    man.root = root;
    return man;
}

/// The manifest entry of a volume written as `files`.
inline WrittenCase written_volume(const std::string& id, const Phantom& ph, std::vector<std::string> files) {
    WrittenCase wc;
    wc.id = id;
    wc.labels = ph.labels;
    wc.slice_labels = ph.slice_labels;
    wc.nz = ph.ct.nz();
    wc.files = std::move(files);
    return wc;
}

/// RAS affine column / origin -> DICOM LPS geometry of slice k.
inline void dicom_geometry(const io::Affine& a, double k, io::DicomWriteSpec& w) {
    const auto p = a.apply(0, 0, k);
    w.position = {-p[0], -p[1], p[2]};
    const double sx = a.column_norm(0), sy = a.column_norm(1);
    w.orientation = {-a(0, 0) / sx, -a(1, 0) / sx, a(2, 0) / sx, -a(0, 1) / sy, -a(1, 1) / sy, a(2, 1) / sy};
    w.pixel_spacing = {sy, sx};
}

}  // namespace detail

inline LayoutManifest write_physionet_layout(const std::string& root, const LayoutOptions& o = {}) {
    using namespace detail;
    io::make_dirs(root + "/ct_scans");
    LayoutManifest man = begin_layout(root + "/masks", root);
    const std::vector<int> plan = ich_plan(o.count, o.ich_fraction, o.seed);
    std::string diag = "PatientNumber,SliceNumber,Intraventricular,Intraparenchymal,Subarachnoid,Epidural,Subdural,"
                       "No_Hemorrhage,Fracture_Yes_No\n";
    std::string demo =
        "Patient Number,\"Age\n(years)\",Gender,Hemorrhage type based on the radiologists diagnosis ,,,,,"
        "Fracture (yes 1/no 0),Note1\n"
        ",,,Intraventricular,Intraparenchymal,Subarachnoid,Epidural,Subdural,,\n";
    Rng rng(o.seed, stream_id(0x9f1, 3));
    int64_t pn = 49;
    for (int64_t c = 0; c < o.count; ++c, ++pn) {
        if (pn == 59) pn = 66;  // 59..65 are not released
        const Phantom ph = case_phantom(o, c, plan[static_cast<size_t>(c)], 0x9f1, o.slices, o.spacing);
        char name[32];
        std::snprintf(name, sizeof name, "%03lld.nii", static_cast<long long>(pn));
        io::write_nifti(root + "/ct_scans/" + name, ph.ct);
        io::write_nifti(root + "/masks/" + name, ph.ich);
        WrittenCase wc =
            written_volume(std::string(name).substr(0, 3), ph, {root + "/ct_scans/" + name, root + "/masks/" + name});
        for (int64_t k = 0; k < ph.ct.nz(); ++k) {
            const IchLabels& l = ph.slice_labels[static_cast<size_t>(k)];
            diag += std::to_string(pn) + "," + std::to_string(k + 1) + "," + std::to_string(l[IchSubtype::IVH]) + "," +
                    std::to_string(l[IchSubtype::IPH]) + "," + std::to_string(l[IchSubtype::SAH]) + "," +
                    std::to_string(l[IchSubtype::EDH]) + "," + std::to_string(l[IchSubtype::SDH]) + "," +
                    std::to_string(1 - l.any) + "," + std::to_string(ph.slice_fracture[static_cast<size_t>(k)]) + "\n";
        }
        auto cell = [&](IchSubtype s) { return ph.labels[s] == 1 ? std::string("1") : std::string(); };
        demo += std::to_string(pn) + "," + std::to_string(rng.randint(18, 90)) + "," + (rng.bernoulli(0.5) ? "Male" : "Female") +
                "," + cell(IchSubtype::IVH) + "," + cell(IchSubtype::IPH) + "," + cell(IchSubtype::SAH) + "," +
                cell(IchSubtype::EDH) + "," + cell(IchSubtype::SDH) + "," + (ph.fracture ? "1" : "0") + "," +
                (ph.labels.any == 1 ? "\"synthetic, " + std::to_string(ph.lesions.size()) + " lesion(s)\"" : std::string()) + "\n";
        man.cases.push_back(std::move(wc));
    }
    demo += ",,,,,,,,,\n\"Total\",,,,,,,,,\n";
    io::write_file_atomic(root + "/hemorrhage_diagnosis_raw_ct.csv", diag);
    io::write_file_atomic(root + "/Patient_demographics.csv", demo);
    return man;
}

inline LayoutManifest write_rsna_layout(const std::string& root, const LayoutOptions& o = {}) {
    using namespace detail;
    const std::string img_dir = root + "/stage_2_train";
    LayoutManifest man = begin_layout(img_dir, root);
    const std::vector<int> plan = ich_plan(o.count, o.ich_fraction, o.seed);
    Rng rng(o.seed, stream_id(0x75a, 1));
    std::vector<std::string> rows;
    std::set<std::string> used;
    auto new_id = [&] {
        std::string id;
        do id = "ID_" + hex(rng, 9);
        while (used.count(id) || id == "ID_6431af929");
        used.insert(id);
        return id;
    };
    const char* types[6] = {"epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural", "any"};
    auto add_rows = [&](const std::string& id, const IchLabels& l) {
        for (int t = 0; t < 6; ++t) {
            const int v = t == 5 ? l.any : l.subtype[static_cast<size_t>(t)];
            rows.push_back(id + "_" + types[t] + "," + std::to_string(v));
        }
    };
    for (int64_t s = 0; s < o.count; ++s) {
        const Phantom ph = case_phantom(o, s, plan[static_cast<size_t>(s)], 0x75a, o.slices, o.spacing);
        const std::string patient = "ID_" + hex(rng, 8), study = "ID_" + hex(rng, 10), series = "ID_" + hex(rng, 10);
        const bool unsigned_storage = rng.bernoulli(0.5);
        for (int64_t k = 0; k < ph.ct.nz(); ++k) {
            io::DicomWriteSpec w;
            w.rows = static_cast<int>(o.size);
            w.cols = static_cast<int>(o.size);
            w.patient_id = patient;
            w.study_uid = study;
            w.series_uid = series;
            w.study_id = "ID_" + hex(rng, 10);
            w.sop_uid = new_id();
            w.image_type.clear();
            dicom_geometry(ph.ct.affine, static_cast<double>(k), w);
            w.window_center = {static_cast<double>(rng.randint(30, 40))};
            w.window_width = {80};
            w.rescale_intercept = -1024;
            w.pixel_representation = unsigned_storage ? 0 : 1;
            std::vector<float> px(ph.ct.slice(k), ph.ct.slice(k) + ph.ct.slice_size());
            std::string special;
            if (o.quirks && s == 0 && k == 0) {
                w.window_center = {36, 40};
                w.window_width = {80, 400};
                special = "multi-window";
            } else if (o.quirks && s == 0 && k == 1) {
                w.rsna_quirk = true;
                for (float& v : px) v = std::max(v, -1000.f);
                special = "12-bit quirk";
            } else if (o.quirks && s == 0 && k == 2) {
                w.transfer_syntax = io::DicomTransferSyntax::implicit_le;
                special = "implicit VR";
            }
            const std::string file = img_dir + "/" + w.sop_uid + ".dcm";
            io::write_dicom_slice(file, w, px.data());
            if (!special.empty()) man.special.push_back(w.sop_uid);
            WrittenCase wc;
            wc.id = w.sop_uid;
            wc.labels = ph.slice_labels[static_cast<size_t>(k)];
            wc.slice_labels = {wc.labels};
            wc.nz = 1;
            wc.files = {file};
            add_rows(wc.id, wc.labels);
            man.cases.push_back(std::move(wc));
        }
    }
    if (o.quirks) {
        // the known corrupt image: labelled, short PixelData
        io::DicomWriteSpec w;
        w.rows = w.cols = static_cast<int>(o.size);
        w.sop_uid = "ID_6431af929";
        w.series_uid = "ID_" + hex(rng, 10);
        w.study_uid = "ID_" + hex(rng, 10);
        w.image_type.clear();
        w.pixel_count_override = o.size * o.size / 3;
        std::vector<float> px(static_cast<size_t>(o.size * o.size), 0.f);
        const std::string file = img_dir + "/ID_6431af929.dcm";
        io::write_dicom_slice(file, w, px.data());
        add_rows("ID_6431af929", IchLabels::negative());
        man.special.push_back("ID_6431af929");
    }
    // shuffle images (6-row groups stay together), add one duplicated row
    std::vector<std::vector<std::string>> groups;
    for (size_t i = 0; i < rows.size(); i += 6) groups.emplace_back(rows.begin() + static_cast<std::ptrdiff_t>(i), rows.begin() + static_cast<std::ptrdiff_t>(i + 6));
    for (int64_t i = static_cast<int64_t>(groups.size()) - 1; i > 0; --i)
        std::swap(groups[static_cast<size_t>(i)], groups[static_cast<size_t>(rng.randint(0, i))]);
    std::string csv = "ID,Label\n";
    for (size_t g = 0; g < groups.size(); ++g) {
        for (const auto& r : groups[g]) csv += r + "\n";
        if (g == 0) csv += groups[g][2] + "\n";  // duplicate row
    }
    io::write_file_atomic(root + "/stage_2_train.csv", csv);
    return man;
}

inline LayoutManifest write_cq500_layout(const std::string& root, const LayoutOptions& o = {}) {
    using namespace detail;
    ICHSEG_CHECK(o.spacing > 0, "write_cq500_layout: ", root, ": the slice spacing must be given (got ", o.spacing,
                 "; the thick series averages pairs of thin slices, so a random spacing per case is not supported)");
    LayoutManifest man = begin_layout(root, root);
    const std::vector<int> plan = ich_plan(o.count, o.ich_fraction, o.seed);
    Rng rng(o.seed, stream_id(0xc9500, 2));
    std::string reads = "name,Category";
    const char* extra[8] = {"BleedLocation-Left", "BleedLocation-Right", "ChronicBleed", "Fracture", "CalvarialFracture",
                            "OtherFracture", "MassEffect", "MidlineShift"};
    const char* findings[6] = {"ICH", "IPH", "IVH", "SDH", "EDH", "SAH"};
    for (int r = 1; r <= 3; ++r) {
        for (const char* f : findings) reads += ",R" + std::to_string(r) + ":" + f;
        for (const char* f : extra) reads += ",R" + std::to_string(r) + ":" + f;
    }
    reads += "\n";
    for (int64_t c = 0; c < o.count; ++c) {
        const int64_t n = c * 3 + 1;  // numbers need not be contiguous
        const Phantom thin = case_phantom(o, c, plan[static_cast<size_t>(c)], 0xc9500, 2 * o.slices, o.spacing / 2);
        const std::string pname = "CQ500CT" + std::to_string(n);
        const std::string base = root + (o.quirks && c >= (o.count + 1) / 2 ? "/qct01/" : "/") + pname + " " + pname +
                                 "/Unknown Study";
        const std::string patient_id = pname, study = io::make_dicom_uid(rng.u32() * 7919ull + 17, rng.u32());
        WrittenCase wc;
        wc.id = "CQ500-CT-" + std::to_string(n);
        wc.labels = thin.labels;
        wc.nz = thin.ct.nz();
        struct SeriesPlan {
            std::string desc, kernel, contrast;
            bool thick;
            io::DicomTransferSyntax ts;
            double extra_noise;
        };
        std::vector<SeriesPlan> plans = {{"PLAIN THIN", "STANDARD", "", false, io::DicomTransferSyntax::jpeg_lossless, 0},
                                         {"Plain", "STANDARD", "", true, io::DicomTransferSyntax::explicit_le, 0}};
        if (o.quirks && c == 0) {
            plans.push_back({"BONE THIN", "BONE", "", false, io::DicomTransferSyntax::jpegls_lossless, 25});
            plans.push_back({"POST CONTRAST", "STANDARD", "IODINE", true, io::DicomTransferSyntax::rle, 0});
        }
        for (const auto& sp : plans) {
            const std::string dir = base + "/CT " + sp.desc;
            io::make_dirs(dir);
            const std::string series = io::make_dicom_uid(rng.u32() * 104729ull + 3, rng.u32());
            const int64_t nz = sp.thick ? thin.ct.nz() / 2 : thin.ct.nz();
            std::vector<int64_t> names(static_cast<size_t>(nz));
            for (int64_t k = 0; k < nz; ++k) names[static_cast<size_t>(k)] = k;
            for (int64_t i = nz - 1; i > 0; --i) std::swap(names[static_cast<size_t>(i)], names[static_cast<size_t>(rng.randint(0, i))]);
            for (int64_t k = 0; k < nz; ++k) {
                std::vector<float> px(static_cast<size_t>(thin.ct.slice_size()));
                double kpos;
                if (sp.thick) {
                    const float* a = thin.ct.slice(2 * k);
                    const float* b = thin.ct.slice(2 * k + 1);
                    for (size_t i = 0; i < px.size(); ++i) px[i] = 0.5f * (a[i] + b[i]);
                    kpos = 2.0 * static_cast<double>(k) + 0.5;
                } else {
                    std::copy(thin.ct.slice(k), thin.ct.slice(k) + thin.ct.slice_size(), px.begin());
                    kpos = static_cast<double>(k);
                }
                if (sp.extra_noise > 0)
                    for (size_t i = 0; i < px.size(); ++i) px[i] += static_cast<float>(sp.extra_noise * rng.normal());
                if (!sp.contrast.empty())
                    for (float& v : px) v += (v > 20 && v < 80) ? 8.f : 0.f;  // crude enhancement
                for (float& v : px) v = std::clamp(v, -1024.f, 3000.f);
                io::DicomWriteSpec w;
                w.rows = w.cols = static_cast<int>(o.size);
                w.patient_id = patient_id;
                w.study_uid = study;
                w.series_uid = series;
                w.sop_uid = io::make_dicom_uid(rng.u32() * 1299709ull + static_cast<uint64_t>(k), rng.u32());
                w.series_description = sp.desc;
                w.convolution_kernel = sp.kernel;
                w.contrast_agent = sp.contrast;
                w.instance_number = k + 1;
                w.slice_thickness = sp.thick ? o.spacing : o.spacing / 2;
                dicom_geometry(thin.ct.affine, kpos, w);
                w.transfer_syntax = sp.ts;
                char fname[32];
                std::snprintf(fname, sizeof fname, "CT%06lld.dcm", static_cast<long long>(names[static_cast<size_t>(k)]));
                io::write_dicom_slice(dir + "/" + fname, w, px.data());
                wc.files.push_back(dir + "/" + fname);
            }
            if (o.quirks && sp.desc == "PLAIN THIN") {
                // a localizer in the same series: coronal, other size
                io::DicomWriteSpec w;
                w.rows = static_cast<int>(o.size / 2);
                w.cols = static_cast<int>(o.size);
                w.patient_id = patient_id;
                w.study_uid = study;
                w.series_uid = series;
                w.sop_uid = io::make_dicom_uid(rng.u32() * 15485863ull, rng.u32());
                w.series_description = sp.desc;
                w.image_type = "ORIGINAL\\PRIMARY\\LOCALIZER";
                w.orientation = {1, 0, 0, 0, 0, -1};
                w.position = {-120, 0, 100};
                w.pixel_spacing = {2, 2};
                std::vector<float> px(static_cast<size_t>(w.rows * w.cols), -1000.f);
                io::write_dicom_slice(dir + "/CT999999.dcm", w, px.data());
            }
        }
        // readers: each finding disagrees in at most one reader, so the majority is the truth
        std::array<std::array<int, 6>, 3> rd{};
        const int8_t truth[6] = {thin.labels.any, thin.labels[IchSubtype::IPH], thin.labels[IchSubtype::IVH],
                                 thin.labels[IchSubtype::SDH], thin.labels[IchSubtype::EDH], thin.labels[IchSubtype::SAH]};
        for (int f = 0; f < 6; ++f) {
            const int64_t flip = rng.bernoulli(0.3) ? rng.randint(0, 2) : -1;
            for (int r = 0; r < 3; ++r) rd[static_cast<size_t>(r)][static_cast<size_t>(f)] = truth[f] ^ (r == flip ? 1 : 0);
        }
        reads += wc.id + "," + (c % 2 ? "B2" : "B1");
        for (int r = 0; r < 3; ++r) {
            for (int f = 0; f < 6; ++f) reads += "," + std::to_string(rd[static_cast<size_t>(r)][static_cast<size_t>(f)]);
            for (int e = 0; e < 8; ++e) reads += "," + std::string(e == 3 && thin.fracture ? "1" : "0");
        }
        reads += "\n";
        man.cases.push_back(std::move(wc));
    }
    io::write_file_atomic(root + "/reads.csv", reads);
    return man;
}

inline LayoutManifest write_segcq500_layout(const std::string& root, const LayoutOptions& o = {}) {
    using namespace detail;
    const std::string vol = root + "/Seg-CQ500/data/volumes";
    LayoutManifest man = begin_layout(vol, root + "/Seg-CQ500");
    std::string info = "name,ICH,IPH,IVH,SDH,EDH,SAH,MassEffect,MidlineShift\n";
    Rng rng(o.seed, stream_id(0x5e6, 4));
    for (int64_t c = 0; c < o.count; ++c) {
        const int64_t n = o.first_number + c * 7;
        const double tilt = (o.quirks && c == 1) ? 5.0 : 0.0;
        const Phantom ph = case_phantom(o, c, 1, 0x5e6, o.slices, o.spacing, tilt);
        const std::string name = "CQ500-CT-" + std::to_string(n);
        const std::string dir = vol + "/" + name;
        io::make_dirs(dir);
        io::write_nifti(dir + "/CT.nii", ph.ct);
        io::write_nifti(dir + "/ICH_mask.nii.gz", ph.ich);
        io::write_nifti(dir + "/brain.nii.gz", ph.brain);
        auto prob = [&](int8_t v) {
            const double p = v == 1 ? (rng.bernoulli(0.5) ? 1.0 : 0.67) : (rng.bernoulli(0.7) ? 0.0 : 0.33);
            char b[16];
            std::snprintf(b, sizeof b, "%.2f", p);
            return std::string(b);
        };
        info += name + "," + prob(ph.labels.any) + "," + prob(ph.labels[IchSubtype::IPH]) + "," +
                prob(ph.labels[IchSubtype::IVH]) + "," + prob(ph.labels[IchSubtype::SDH]) + "," +
                prob(ph.labels[IchSubtype::EDH]) + "," + prob(ph.labels[IchSubtype::SAH]) + "," + prob(0) + "," +
                prob(0) + "\n";
        man.cases.push_back(written_volume(name, ph, {dir + "/CT.nii", dir + "/ICH_mask.nii.gz", dir + "/brain.nii.gz"}));
    }
    io::write_file_atomic(vol + "/info.csv", info);
    return man;
}

}  // namespace ichseg::data
