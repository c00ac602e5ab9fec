/// @file dicom_seg.hpp (predict; needs ichseg::io, which links DCMTK's dcmseg / dcmfg / dcmiod)
/// @brief The hemorrhage mask as a DICOM Segmentation object (SOP class 1.2.840.10008.5.1.4.1.1.66.4) that
/// references the source CT series, so a PACS / viewer shows it over the images it was computed from.
///
/// Content: BINARY segmentation, one segment "Intracranial hemorrhage" (category SCT 49755003 "Morphologically
/// Altered Structure", type SCT 50960005 "Hemorrhage", algorithm AUTOMATIC "ichseg U-Net"), one frame per source
/// slice in slice order (empty frames included, so frame k always is slice k). Patient, study and frame of
/// reference are imported from the first source image (DCMTK `importFromSourceImage`); shared functional groups
/// hold PixelSpacing / SliceThickness and ImageOrientationPatient of the series; per frame: PlanePosition
/// (the source slice's ImagePositionPatient), FrameContent (dimension index: segment number, slice number) and
/// DerivationImage (the source slice's SOP class / instance UID, purpose "Source image for image processing
/// operation" (DCM 121322), Spatial Locations Preserved YES, derivation "Segmentation" (DCM 113076)), so
/// highdicom and viewers can index the SEG by source image; the Common Instance Reference module
/// lists every source image (Referenced Series Sequence). New Series and SOP Instance UIDs are made by
/// DCMTK. The file is written under a temporary name and published like every output (output.hpp).
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmiod/iodmacro.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/dicom.hpp"
#include "ichseg/io/volume.hpp"
#include "ichseg/predict/output.hpp"

namespace ichseg::predict {

struct DicomSegOptions {
    std::string series_description = "ichseg ICH segmentation";
    std::string series_number = "9901";
    std::string software_version = "ichseg 0.1.0";
    std::string segment_label = "Intracranial hemorrhage";
};

namespace detail {
inline void dcm_check(const OFCondition& c, const std::string& path, const char* what) {
    if (c.bad()) fail(path, ": DICOM SEG: ", what, " failed (DCMTK: ", c.text(), ")");
}
inline std::string ds_str(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.10g", v);
    std::string s = b;
    if (s.size() > 16) {
        std::snprintf(b, sizeof b, "%.8g", v);
        s = b;
    }
    return s;
}

/// Every per-frame Source Image Sequence item gets Spatial Locations Preserved = YES: frame k is slice k of its
/// source image, pixel for pixel (same rows, columns, position and orientation). DCMTK 3.6.7's SourceImageItem has
/// no field for it, so it is added to the written dataset. Tools that map segments back onto source images
/// (highdicom's get_pixels_by_source_instance, viewers) rely on this statement.
inline void mark_spatial_locations_preserved(DcmItem& ds, const std::string& path) {
    DcmSequenceOfItems* frames = nullptr;
    if (ds.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, frames).bad() || !frames)
        fail(path, ": DICOM SEG: no per-frame functional groups were written");
    size_t marked = 0;
    for (unsigned long f = 0; f < frames->card(); ++f) {
        DcmItem* fg = frames->getItem(f);
        DcmSequenceOfItems* der = nullptr;
        if (!fg || fg->findAndGetSequence(DCM_DerivationImageSequence, der).bad() || !der) continue;
        for (unsigned long d = 0; d < der->card(); ++d) {
            DcmSequenceOfItems* src = nullptr;
            DcmItem* di = der->getItem(d);
            if (!di || di->findAndGetSequence(DCM_SourceImageSequence, src).bad() || !src) continue;
            for (unsigned long i = 0; i < src->card(); ++i) {
                dcm_check(src->getItem(i)->putAndInsertString(DCM_SpatialLocationsPreserved, "YES"), path,
                          "Spatial Locations Preserved");
                ++marked;
            }
        }
    }
    ICHSEG_CHECK(marked == frames->card(), path, ": DICOM SEG: ", marked, " of ", frames->card(),
                 " frames reference their source image");
}
}  // namespace detail

/// Write `mask` (on the grid of `series`: nz = series slices, ny = Rows, nx = Columns) as DICOM SEG at `path`
/// (written to a temporary file, then published as output.hpp describes).
inline void write_dicom_seg(const std::string& path, const io::Mask& mask, const io::DicomSeries& series,
                            bool overwrite, const ProtectedFiles* inputs = nullptr, const DicomSegOptions& opt = {}) {
    io::detail::dicom_init_once();
    const int64_t nz = mask.nz(), ny = mask.ny(), nx = mask.nx();
    ICHSEG_CHECK(!series.slices.empty() && static_cast<int64_t>(series.slices.size()) == nz, path,
                 ": DICOM SEG: the mask has ", nz, " slices but the source series ", series.slices.size());
    const io::DicomHeader& h0 = series.slices[0];
    ICHSEG_CHECK(h0.rows == ny && h0.cols == nx, path, ": DICOM SEG: mask slices ", ny, " x ", nx,
                 " differ from the source images ", h0.rows, " x ", h0.cols);
    ICHSEG_CHECK(ny <= 65535 && nx <= 65535, path, ": DICOM SEG: image too large");

    IODGeneralEquipmentModule::EquipmentInfo eq("ichseg", "ichseg", "1", opt.software_version.c_str());
    // Content Creator's Name (Type 2) is left empty: a program is not a person (a PN value "ichseg" is the retired
    // single-component name form that dciodvfy warns about).
    ContentIdentificationMacro ci("1", "ICH", "Intracranial hemorrhage segmentation by ichseg", "");
    DcmSegmentation* raw = nullptr;
    detail::dcm_check(DcmSegmentation::createBinarySegmentation(raw, static_cast<Uint16>(ny), static_cast<Uint16>(nx),
                                                                eq, ci),
                      path, "createBinarySegmentation");
    std::unique_ptr<DcmSegmentation> seg(raw);
    {
        DcmFileFormat ff;
        detail::dcm_check(ff.loadFile(h0.path.c_str()), path, "reading the first source image");
        detail::dcm_check(seg->importFromSourceImage(*ff.getDataset()), path, "importFromSourceImage");
    }
    {
        // Real CT has a FrameOfReferenceUID (imported above); some exported or synthetic files lack it, and a SEG
        // needs one: a new frame of reference then (viewers match the SEG through the referenced images).
        OFString for_uid;
        seg->getFrameOfReference().getFrameOfReferenceUID(for_uid);
        if (for_uid.empty()) {
            char uid[100];
            dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
            detail::dcm_check(seg->getFrameOfReference().setFrameOfReferenceUID(uid), path, "FrameOfReferenceUID");
        }
    }
    seg->getSeries().setSeriesDescription(opt.series_description.c_str());
    seg->getSeries().setSeriesNumber(opt.series_number.c_str());

    // Segment.
    DcmSegment* segment = nullptr;
    detail::dcm_check(DcmSegment::create(segment, opt.segment_label.c_str(),
                                         CodeSequenceMacro("49755003", "SCT", "Morphologically Altered Structure"),
                                         CodeSequenceMacro("50960005", "SCT", "Hemorrhage"), DcmSegTypes::SAT_AUTOMATIC,
                                         "ichseg U-Net"),
                      path, "creating the segment");
    Uint16 seg_no = 0;
    const OFCondition added = seg->addSegment(segment, seg_no);
    if (added.bad()) {
        delete segment;
        detail::dcm_check(added, path, "addSegment");
    }

    // Dimensions: segment number, then position.
    char dim_uid[100];
    dcmGenerateUniqueIdentifier(dim_uid, SITE_INSTANCE_UID_ROOT);
    detail::dcm_check(seg->getDimensions().addDimensionIndex(DCM_ReferencedSegmentNumber, dim_uid,
                                                             DCM_SegmentIdentificationSequence, "ReferencedSegmentNumber"),
                      path, "dimension index (segment)");
    detail::dcm_check(seg->getDimensions().addDimensionIndex(DCM_ImagePositionPatient, dim_uid, DCM_PlanePositionSequence,
                                                             "ImagePositionPatient"),
                      path, "dimension index (position)");

    // Shared functional groups.
    FGPixelMeasures pm;
    pm.setPixelSpacing((detail::ds_str(h0.pixel_spacing[0]) + "\\" + detail::ds_str(h0.pixel_spacing[1])).c_str());
    const double thick = h0.slice_thickness > 0 ? h0.slice_thickness : (series.step > 0 ? series.step : 1.0);
    pm.setSliceThickness(detail::ds_str(thick).c_str());
    if (series.step > 0) pm.setSpacingBetweenSlices(detail::ds_str(series.step).c_str());
    detail::dcm_check(seg->addForAllFrames(pm), path, "pixel measures");
    const auto& o = h0.orientation;
    FGPlaneOrientationPatient* po = FGPlaneOrientationPatient::createMinimal(
        detail::ds_str(o[0]).c_str(), detail::ds_str(o[1]).c_str(), detail::ds_str(o[2]).c_str(),
        detail::ds_str(o[3]).c_str(), detail::ds_str(o[4]).c_str(), detail::ds_str(o[5]).c_str());
    ICHSEG_CHECK(po != nullptr, path, ": DICOM SEG: plane orientation");
    std::unique_ptr<FGPlaneOrientationPatient> po_owner(po);
    detail::dcm_check(seg->addForAllFrames(*po), path, "plane orientation");

    // Frames.
    const Tensor<uint8_t> vox = mask.voxels.contiguous();
    std::vector<Uint8> frame(static_cast<size_t>(ny * nx));
    for (int64_t k = 0; k < nz; ++k) {
        const io::DicomHeader& hk = series.slices[static_cast<size_t>(k)];
        const uint8_t* s = vox.data() + k * ny * nx;
        for (int64_t i = 0; i < ny * nx; ++i) frame[static_cast<size_t>(i)] = s[i] ? 1 : 0;
        std::unique_ptr<FGPlanePosPatient> pp(FGPlanePosPatient::createMinimal(
            detail::ds_str(hk.position[0]).c_str(), detail::ds_str(hk.position[1]).c_str(),
            detail::ds_str(hk.position[2]).c_str()));
        ICHSEG_CHECK(pp != nullptr, path, ": DICOM SEG: plane position of slice ", k);
        FGFrameContent fc;
        detail::dcm_check(fc.setDimensionIndexValues(seg_no, 0), path, "frame content (segment)");
        detail::dcm_check(fc.setDimensionIndexValues(static_cast<Uint32>(k + 1), 1), path, "frame content (position)");
        ImageSOPInstanceReferenceMacro* ref = nullptr;
        detail::dcm_check(ImageSOPInstanceReferenceMacro::create(hk.sop_class_uid.empty() ? UID_CTImageStorage
                                                                                            : hk.sop_class_uid.c_str(),
                                                                 hk.sop_instance_uid.c_str(), ref),
                          path, "source image reference");
        std::unique_ptr<ImageSOPInstanceReferenceMacro> ref_owner(ref);
        OFVector<ImageSOPInstanceReferenceMacro> refs;
        refs.push_back(*ref);
        std::unique_ptr<FGDerivationImage> der(
            DcmSegmentation::createDerivationImageFG(refs, "Automatic segmentation by an ichseg U-Net"));
        ICHSEG_CHECK(der != nullptr, path, ": DICOM SEG: derivation image of slice ", k);
        OFVector<FGBase*> groups;
        groups.push_back(pp.get());
        groups.push_back(&fc);
        groups.push_back(der.get());
        detail::dcm_check(seg->addFrame(frame.data(), seg_no, groups), path, "adding a frame");
    }
    {
        // Common Instance Reference Module: the source series (Referenced Series Sequence).
        IODReferences refs;
        for (const auto& hk : series.slices)
            if (!refs.add(new IODImageReference(hk.patient_id.c_str(), hk.study_uid.c_str(), hk.series_uid.c_str(),
                                                hk.sop_instance_uid.c_str(),
                                                hk.sop_class_uid.empty() ? UID_CTImageStorage : hk.sop_class_uid.c_str())))
                fail(path, ": DICOM SEG: cannot reference source image ", hk.path);
        const size_t n = seg->getCommonInstanceReference().addReferences(refs, series.study_uid.c_str());
        ICHSEG_CHECK(n == series.slices.size(), path, ": DICOM SEG: referenced ", n, " of ", series.slices.size(),
                     " source images");
    }
    DcmFileFormat ff;
    detail::dcm_check(seg->writeDataset(*ff.getDataset()), path, "building the dataset");
    detail::mark_spatial_locations_preserved(*ff.getDataset(), path);
    const std::string tmp = detail::temp_name_for(path, ".dcm");
    const OFCondition saved = ff.saveFile(tmp.c_str(), EXS_LittleEndianExplicit);
    if (saved.bad()) {
        std::remove(tmp.c_str());
        detail::dcm_check(saved, path, "writing the file");
    }
    publish_file(tmp, path, overwrite, inputs);
}

}  // namespace ichseg::predict
