"""DICOM SEG written by `ichseg_predict --dicom-seg`, checked by highdicom and (when installed) dciodvfy.

A CT series is written with pydicom the way a scanner export looks (64 x 64 x 6, int16 HU-coded, hemorrhage blobs
of 75 HU on slices 1-4, one slice without blood); the hand-set "hyperdense band" model (predict_make_model
--band) finds exactly the 55..100 HU pixels, so the expected mask is known without ichseg. Then:
  * highdicom reads the SEG (segread) and indexes it by source instance WITHOUT ignore_spatial_locations; the
    frames must equal the expected mask, slice by slice, for every source image (empty slices included);
  * each per-frame Derivation Image item says purpose (DCM 121322) and Spatial Locations Preserved = YES;
  * highdicom's volume view (get_volume) has the source geometry;
  * dciodvfy (Debian package dicom3tools) reports no error.
Exit 77 (CTest: Skipped) when pydicom, numpy or highdicom is missing.
Usage: dicom_seg_highdicom_test.py --predict ICHSEG_PREDICT --make-model PREDICT_MAKE_MODEL"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "io", "peers"))
import peerlib  # noqa: E402

np, pydicom, hd = peerlib.need("numpy", "pydicom", "highdicom")

N, NZ = 64, 6


def write_series(folder):
    """The source series; returns (SOP instance UIDs in slice order, expected mask (NZ, N, N) of 0/1)."""
    os.makedirs(folder)
    study, series, frame_ref = peerlib.new_uid(), peerlib.new_uid(), peerlib.new_uid()
    y, x = np.mgrid[0:N, 0:N]
    r = np.hypot(y - N / 2 + 0.5, x - N / 2 + 0.5)
    uids, mask = [], np.zeros((NZ, N, N), np.uint8)
    for k in range(NZ):
        hu = np.full((N, N), -1000.0)
        hu[r < 29] = 1100  # skull
        hu[r < 26] = 35  # brain
        if 1 <= k <= 4:
            blob = np.hypot(y - 36 + k, x - 28) < 3 + k
            hu[blob] = 75
            mask[k][blob] = 1
        ds = peerlib.ct_dataset(np.round(hu).astype(np.int64), bits_stored=16, signed=True, intercept=0.0,
                                study=study, series=series, frame_of_reference=frame_ref, patient="SEG^TEST",
                                position=(-16.0, -16.0, -20.0 + 5.0 * k), spacing=(0.5, 0.5), thickness=5.0,
                                instance=k + 1)
        ds.PatientName = "SEG^TEST"
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240102", "101500", "1", "A1"
        ds.SeriesNumber, ds.Manufacturer, ds.ReferringPhysicianName = 3, "pydicom", ""
        ds.PatientBirthDate, ds.PatientSex = "", "O"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.save_as(os.path.join(folder, f"CT{k:06d}.dcm"), enforce_file_format=True)
        uids.append(ds.SOPInstanceUID)
    return uids, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--predict", required=True)
    ap.add_argument("--make-model", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ichseg-seg-") as tmp:
        src, out, model = os.path.join(tmp, "CT"), os.path.join(tmp, "out"), os.path.join(tmp, "band.safetensors")
        uids, expected = write_series(src)
        subprocess.run([a.make_model, "--band", model, str(N)], check=True)
        r = subprocess.run([a.predict, "-m", model, "-o", out, src, "--dicom-seg"], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout, r.stderr)
            raise SystemExit("ichseg_predict failed")
        path = os.path.join(out, "CT_seg.dcm")
        seg = hd.seg.segread(path)
        assert seg.SegmentationType == "BINARY", seg.SegmentationType
        assert len(seg.SegmentSequence) == 1 and seg.SegmentSequence[0].SegmentLabel == "Intracranial hemorrhage"
        assert int(seg.NumberOfFrames) == NZ, seg.NumberOfFrames
        referenced = {u for (_, _, u) in seg.get_source_image_uids()}
        assert referenced == set(uids), "the SEG does not reference exactly the source images"
        # The check the issue is about: no ignore_spatial_locations.
        px = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[1])
        assert px.shape == (NZ, N, N, 1), px.shape
        wrong = int((px[..., 0].astype(np.uint8) != expected).sum())
        assert wrong == 0, f"{wrong} pixels differ from the expected mask"
        assert expected.sum() > 0 and (expected.sum(axis=(1, 2)) == 0).any()  # blood and an empty slice
        ds = pydicom.dcmread(path)
        for i, fg in enumerate(ds.PerFrameFunctionalGroupsSequence):
            for item in fg.DerivationImageSequence[0].SourceImageSequence:
                assert item.PurposeOfReferenceCodeSequence[0].CodeValue == "121322", i
                assert item.SpatialLocationsPreserved == "YES", i
        vol = seg.get_volume()
        assert vol.spatial_shape == (NZ, N, N), vol.spatial_shape
        assert abs(vol.spacing[0] - 5.0) < 1e-6 and abs(vol.spacing[1] - 0.5) < 1e-6, vol.spacing
        print(f"highdicom {hd.__version__}: SEG indexed by {NZ} source instances, {int(expected.sum())} mask pixels"
              " equal")
        if shutil.which("dciodvfy"):
            v = subprocess.run(["dciodvfy", path], capture_output=True, text=True)
            lines = (v.stdout + v.stderr).splitlines()
            errors = [ln for ln in lines if ln.startswith("Error")]
            for ln in lines:
                print("dciodvfy:", ln)
            assert not errors, f"dciodvfy reports {len(errors)} error(s)"
            print(f"dciodvfy: no error ({sum(ln.startswith('Warning') for ln in lines)} warning(s))")
        else:
            print("dciodvfy not installed (Debian package dicom3tools): that check was not run")
    print("DICOM SEG conformance: passed")


if __name__ == "__main__":
    main()
