/// @file dicom/writer.hpp
/// @brief `write_dicom_slice`: one CT image as a DICOM file, for test fixtures and the phantom layouts. Writes
/// exactly the attributes given (the RSNA attribute set when the optional ones are left empty), signed or unsigned
/// storage, 8 or 16 allocated and 1..16 stored bits, the RSNA 12-bit quirk, a short PixelData, a bare dataset
/// without meta header, and every transfer syntax the reader decodes (compression through DCMTK's encoders;
/// JPEG 2000 through OpenJPEG, lossless or lossy, in one or several fragments, or given corrupt fragments). `make_dicom_uid` makes UIDs.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/dicom/dcmtk.hpp"
#include "ichseg/io/dicom/jpeg2000.hpp"

namespace ichseg::io {

/// jpeg_baseline: .50 (8 bits), jpeg_extended: .51 (12 bits), both lossy at DCMTK's quality 90;
/// jpeg2000_lossless: .90 (reversible wavelet); jpeg2000: .91, lossy at `DicomWriteSpec::j2k_ratio` (reversible,
/// i.e. lossless in .91, when the ratio is <= 1); deflated: explicit VR little endian, zlib-compressed dataset.
enum class DicomTransferSyntax {
    explicit_le, implicit_le, explicit_be, jpeg_lossless, jpegls_lossless, rle, jpeg2000_lossless, jpeg2000,
    deflated, jpeg_baseline, jpeg_extended
};

/// Everything written into one CT image. Attributes with empty strings / negative numbers are omitted.
struct DicomWriteSpec {
    int rows = 0, cols = 0;
    std::string modality = "CT";
    std::string patient_id, study_uid, series_uid, sop_uid, study_id;
    std::string series_description, image_type = "ORIGINAL\\PRIMARY\\AXIAL", convolution_kernel, contrast_agent;
    std::string body_part, study_description;  ///< BodyPartExamined, StudyDescription (written when not empty)
    int64_t instance_number = -1;
    bool write_geometry = true;
    std::array<double, 3> position{0, 0, 0};
    std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
    std::array<double, 2> pixel_spacing{0.5, 0.5};  ///< [between rows, between columns]
    double slice_thickness = 0;
    std::vector<double> window_center{40}, window_width{80};
    bool write_rescale = true;
    double rescale_slope = 1, rescale_intercept = -1024;
    int bits_allocated = 16;  ///< 16, or 8 (then bits_stored <= 8)
    int bits_stored = 16;
    int pixel_representation = 1;
    /// Encode as the RSNA quirk: 12 bits, unsigned, intercept 0, stored = (HU + 1000 - 1000) mod 4096 ... i.e. the
    /// stored value that the RSNA fix maps back to HU (requires -1000 <= HU <= 3095).
    bool rsna_quirk = false;
    DicomTransferSyntax transfer_syntax = DicomTransferSyntax::explicit_le;
    bool write_pixel_data = true;
    int64_t pixel_count_override = -1;  ///< write only this many pixels (to make a short PixelData fixture)
    bool write_meta_header = true;      ///< false: a bare dataset without preamble (old-style files)
    double j2k_ratio = 10;              ///< jpeg2000 (.91): target compression ratio; <= 1: reversible
    int fragments = 1;                  ///< JPEG 2000: split the codestream over this many (0: no fragment)
    /// JPEG 2000: write these bytes as the fragments instead of the encoded image (corrupt-file fixtures; `hu`
    /// may then be null).
    std::vector<std::string> fragments_override;
};

namespace detail {
inline E_TransferSyntax to_dcmtk(DicomTransferSyntax t) {
    switch (t) {
        case DicomTransferSyntax::implicit_le: return EXS_LittleEndianImplicit;
        case DicomTransferSyntax::explicit_be: return EXS_BigEndianExplicit;
        case DicomTransferSyntax::jpeg_lossless: return EXS_JPEGProcess14SV1;
        case DicomTransferSyntax::jpegls_lossless: return EXS_JPEGLSLossless;
        case DicomTransferSyntax::rle: return EXS_RLELossless;
        case DicomTransferSyntax::jpeg2000_lossless: return EXS_JPEG2000LosslessOnly;
        case DicomTransferSyntax::jpeg2000: return EXS_JPEG2000;
        case DicomTransferSyntax::deflated: return EXS_DeflatedLittleEndianExplicit;
        case DicomTransferSyntax::jpeg_baseline: return EXS_JPEGProcess1;
        case DicomTransferSyntax::jpeg_extended: return EXS_JPEGProcess2_4;
        default: return EXS_LittleEndianExplicit;
    }
}
inline std::string join_ds(const double* v, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.10g", v[i]);
        std::string t = buf;
        if (t.size() > 16) {  // DS is at most 16 characters
            std::snprintf(buf, sizeof buf, "%.8g", v[i]);
            t = buf;
        }
        s += (i ? "\\" : "") + t;
    }
    return s;
}
}  // namespace detail

namespace detail {
/// Encapsulated JPEG 2000 pixel data: empty Basic Offset Table, then the codestream in `w.fragments` even-length
/// fragments (or `w.fragments_override`), plus the Lossy Image Compression attributes for a lossy .91 file.
inline OFCondition put_jpeg2000(DcmDataset* ds, const DicomWriteSpec& w, const std::vector<int32_t>& px,
                                int bits_stored, int pixrep, const std::string& path) {
    const bool lossy = w.transfer_syntax == DicomTransferSyntax::jpeg2000 && w.j2k_ratio > 1;
    std::vector<std::string> frags = w.fragments_override;
    if (frags.empty() && w.fragments > 0) {
        std::vector<uint8_t> cs;
        try {
            cs = j2k::encode(px.data(), static_cast<uint32_t>(w.rows), static_cast<uint32_t>(w.cols),
                             static_cast<uint32_t>(bits_stored), pixrep == 1, lossy ? w.j2k_ratio : 0);
        } catch (const std::exception& e) {
            fail(path, ": ", e.what());
        }
        const size_t nf = static_cast<size_t>(std::clamp(w.fragments, 1, 64));
        size_t per = (cs.size() + nf - 1) / nf;
        per += per % 2;  // only the last fragment may need a pad byte: the others must not insert one
        for (size_t f = 0, pos = 0; f < nf && pos < cs.size(); ++f, pos += per)
            frags.emplace_back(reinterpret_cast<const char*>(cs.data()) + pos, std::min(per, cs.size() - pos));
        if (lossy) {
            ds->putAndInsertString(DCM_LossyImageCompression, "01");
            const double ratio = double(w.rows) * w.cols * ((bits_stored + 7) / 8) / double(cs.size());
            ds->putAndInsertString(DCM_LossyImageCompressionRatio, join_ds(&ratio, 1).c_str());
            ds->putAndInsertString(DCM_LossyImageCompressionMethod, "ISO_15444_1");
        }
    }
    auto* seq = new DcmPixelSequence(DCM_PixelSequenceTag);
    seq->insert(new DcmPixelItem(DCM_PixelItemTag));  // empty Basic Offset Table
    for (std::string f : frags) {
        if (f.size() % 2) f.push_back('\0');  // items have even length
        auto* item = new DcmPixelItem(DCM_PixelItemTag);
        const OFCondition c = item->putUint8Array(reinterpret_cast<const Uint8*>(f.data()), static_cast<Uint32>(f.size()));
        seq->insert(item);
        if (c.bad()) {
            delete seq;
            return c;
        }
    }
    auto* pd = new DcmPixelData(DCM_PixelData);
    pd->putOriginalRepresentation(to_dcmtk(w.transfer_syntax), nullptr, seq);
    return ds->insert(pd, true);
}
}  // namespace detail

/// A new DICOM UID under the 2.25 (UUID-derived) root, unique per call within a process and across seeds.
inline std::string make_dicom_uid(uint64_t a, uint64_t b) {
    // 2.25.<decimal of a 128-bit number>: print two 64-bit halves as decimal, no leading zeros issue.
    std::string s = "2.25." + std::to_string(a % 9000000000000000000ull + 1000000000000000000ull) +
                    std::to_string(b % 10000000000000000000ull);
    if (s.size() > 64) s.resize(64);
    if (s.back() == '.') s.back() = '1';
    return s;
}

/// Write one CT image; `hu` has rows * cols values. Stored = round((HU - intercept) / slope), which must fit
/// BitsStored bits of the chosen signedness. The file appears atomically.
inline void write_dicom_slice(const std::string& path, const DicomWriteSpec& w, const float* hu) {
    detail::dicom_init_once();
    ICHSEG_CHECK(w.rows > 0 && w.cols > 0, path, ": write_dicom_slice: invalid size ", w.rows, "x", w.cols);
    DcmFileFormat ff;
    DcmDataset* ds = ff.getDataset();
    auto put = [&](const DcmTagKey& t, const std::string& v) {
        if (!v.empty()) {
            const OFCondition c = ds->putAndInsertString(t, v.c_str());
            if (c.bad()) fail(path, ": cannot set ", DcmTag(t).getTagName(), " = '", v, "': ", c.text());
        }
    };
    put(DCM_SOPClassUID, UID_CTImageStorage);
    put(DCM_SOPInstanceUID, w.sop_uid);
    put(DCM_Modality, w.modality);
    put(DCM_PatientID, w.patient_id);
    put(DCM_StudyInstanceUID, w.study_uid);
    put(DCM_SeriesInstanceUID, w.series_uid);
    put(DCM_StudyID, w.study_id);
    put(DCM_SeriesDescription, w.series_description);
    put(DCM_ImageType, w.image_type);
    put(DCM_ConvolutionKernel, w.convolution_kernel);
    put(DCM_ContrastBolusAgent, w.contrast_agent);
    put(DCM_BodyPartExamined, w.body_part);
    put(DCM_StudyDescription, w.study_description);
    if (w.instance_number >= 0) put(DCM_InstanceNumber, std::to_string(w.instance_number));
    if (w.write_geometry) {
        put(DCM_ImagePositionPatient, detail::join_ds(w.position.data(), 3));
        put(DCM_ImageOrientationPatient, detail::join_ds(w.orientation.data(), 6));
        put(DCM_PixelSpacing, detail::join_ds(w.pixel_spacing.data(), 2));
    }
    if (w.slice_thickness > 0) put(DCM_SliceThickness, detail::join_ds(&w.slice_thickness, 1));
    if (!w.window_center.empty()) put(DCM_WindowCenter, detail::join_ds(w.window_center.data(), w.window_center.size()));
    if (!w.window_width.empty()) put(DCM_WindowWidth, detail::join_ds(w.window_width.data(), w.window_width.size()));
    const int bits_stored = w.rsna_quirk ? 12 : w.bits_stored;
    const int bits_alloc = w.rsna_quirk ? 16 : w.bits_allocated;
    const int pixrep = w.rsna_quirk ? 0 : w.pixel_representation;
    const double slope = w.rsna_quirk ? 1.0 : w.rescale_slope, inter = w.rsna_quirk ? 0.0 : w.rescale_intercept;
    ICHSEG_CHECK(bits_alloc == 8 || bits_alloc == 16, path, ": BitsAllocated ", bits_alloc, " (8 or 16 written)");
    ICHSEG_CHECK(bits_stored >= 1 && bits_stored <= bits_alloc, path, ": BitsStored ", bits_stored, " not in 1..",
                 bits_alloc);
    const bool j2k = w.transfer_syntax == DicomTransferSyntax::jpeg2000_lossless ||
                     w.transfer_syntax == DicomTransferSyntax::jpeg2000;
    if (w.write_rescale) {
        put(DCM_RescaleSlope, detail::join_ds(&slope, 1));
        put(DCM_RescaleIntercept, detail::join_ds(&inter, 1));
    }
    ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(w.rows));
    ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(w.cols));
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    put(DCM_PhotometricInterpretation, "MONOCHROME2");
    ds->putAndInsertUint16(DCM_BitsAllocated, static_cast<Uint16>(bits_alloc));
    ds->putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(bits_stored));
    ds->putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(bits_stored - 1));
    ds->putAndInsertUint16(DCM_PixelRepresentation, static_cast<Uint16>(pixrep));
    // JPEG 2000 fixtures with given fragments (or none) need no pixel values: `hu` may then be null.
    const bool given_fragments = j2k && (!w.fragments_override.empty() || w.fragments <= 0);
    if (w.write_pixel_data && given_fragments) {
        const OFCondition c = detail::put_jpeg2000(ds, w, {}, bits_stored, pixrep, path);
        if (c.bad()) fail(path, ": cannot set PixelData: ", c.text());
    } else if (w.write_pixel_data) {
        ICHSEG_CHECK(hu != nullptr, path, ": write_dicom_slice: no pixel values given");
        const int64_t n = static_cast<int64_t>(w.rows) * w.cols;
        std::vector<int32_t> px(static_cast<size_t>(n));
        const int64_t lo = pixrep ? -(int64_t(1) << (bits_stored - 1)) : 0;
        const int64_t hi = pixrep ? (int64_t(1) << (bits_stored - 1)) - 1 : (int64_t(1) << bits_stored) - 1;
        for (int64_t i = 0; i < n; ++i) {
            int64_t sv;
            if (w.rsna_quirk) {
                const int64_t st = std::llround(hu[i]) + 1000;  // true stored value with intercept -1000
                if (st < 0 || st > 4095)
                    fail(path, ": HU ", hu[i], " cannot be written with the RSNA 12-bit quirk (needs -1000..3095)");
                sv = (st - 1000 + 4096) % 4096;
            } else {
                sv = std::llround((static_cast<double>(hu[i]) - inter) / slope);
                if (sv < lo || sv > hi)
                    fail(path, ": HU ", hu[i], " gives stored value ", sv, " outside ", lo, "..", hi, " (BitsStored ",
                         bits_stored, pixrep ? ", signed)" : ", unsigned)");
            }
            px[static_cast<size_t>(i)] = static_cast<int32_t>(sv);
        }
        const int64_t count = w.pixel_count_override >= 0 ? std::min<int64_t>(w.pixel_count_override, n) : n;
        OFCondition c;
        if (j2k) {
            c = detail::put_jpeg2000(ds, w, px, bits_stored, pixrep, path);
        } else if (bits_alloc == 8) {
            std::vector<Uint8> b(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) b[static_cast<size_t>(i)] = static_cast<Uint8>(px[static_cast<size_t>(i)] & 0xFF);
            c = ds->putAndInsertUint8Array(DCM_PixelData, b.data(), static_cast<unsigned long>(count));
        } else {
            std::vector<Uint16> b(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i)
                b[static_cast<size_t>(i)] = static_cast<Uint16>(static_cast<uint32_t>(px[static_cast<size_t>(i)]) & 0xFFFFu);
            c = ds->putAndInsertUint16Array(DCM_PixelData, b.data(), static_cast<unsigned long>(count));
        }
        if (c.bad()) fail(path, ": cannot set PixelData: ", c.text());
    }
    const E_TransferSyntax xs = detail::to_dcmtk(w.transfer_syntax);
    if (w.write_pixel_data && DcmXfer(xs).isEncapsulated() && !j2k) {
        OFCondition c;
        if (w.transfer_syntax == DicomTransferSyntax::jpeg_lossless) {
            DJ_RPLossless p;
            c = ds->chooseRepresentation(xs, &p);
        } else if (w.transfer_syntax == DicomTransferSyntax::jpeg_baseline ||
                   w.transfer_syntax == DicomTransferSyntax::jpeg_extended) {
            DJ_RPLossy p(90);
            c = ds->chooseRepresentation(xs, &p);
        } else if (w.transfer_syntax == DicomTransferSyntax::jpegls_lossless) {
            DJLSRepresentationParameter p(2, OFTrue);
            c = ds->chooseRepresentation(xs, &p);
        } else {
            DcmRLERepresentationParameter p;
            c = ds->chooseRepresentation(xs, &p);
        }
        if (c.bad() || !ds->canWriteXfer(xs)) fail(path, ": cannot compress the pixel data: ", c.text());
    }
    static std::atomic<uint64_t> counter{0};
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    OFCondition c;
    if (w.write_meta_header) {
        c = ff.saveFile(tmp.c_str(), xs, EET_ExplicitLength, EGL_recalcGL, EPD_noChange);
    } else {
        c = ff.saveFile(tmp.c_str(), xs, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0, EWM_dataset);
    }
    if (c.bad()) {
        std::remove(tmp.c_str());
        fail(path, ": cannot write the DICOM file: ", c.text());
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        std::remove(tmp.c_str());
        fail(path, ": cannot move the finished file into place: ", std::strerror(e));
    }
}

}  // namespace ichseg::io
