"""Peer check of the DICOM pixel decoders against pydicom (JPEG 2000 first, then the other transfer syntaxes).

 1. pydicom's own JPEG 2000 test files (its package data): CT .91 14-bit signed, CT .90 with a PixelRepresentation
    that disagrees with the codestream's signedness, MR .90, NM .91. ichseg's values (HU, or rescaled values for
    non-CT) must equal pydicom's `apply_modality_lut(pixel_array)` exactly; colour and corrupt files are refused.
 2. A matrix written by pydicom + pylibjpeg-openjpeg: BitsAllocated 8 and 16, BitsStored 6..16, signed and
    unsigned, .90, .91 reversible and .91 lossy, 1 and 3 fragments: equal to pydicom exactly.
 3. The other way round: JPEG 2000 files written by ichseg's writer (io_peer_tool write) decode in pydicom to the
    values ichseg reads (lossless: the values written).
 4. Other transfer syntaxes, encoded by pydicom (RLE, deflate) and by DCMTK's command-line tools (JPEG lossless,
    JPEG-LS, JPEG baseline/extended): equal to pydicom, except lossy JPEG (tolerance below).
Exit 77 (Skipped) without numpy, pydicom, pylibjpeg-openjpeg.   Usage: jpeg2000_pydicom_test.py IO_PEER_TOOL"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402

np, pydicom = peerlib.need("numpy", "pydicom")
peerlib.need("openjpeg")
from pydicom.pixels import apply_modality_lut  # noqa: E402

TOOL = sys.argv[1]
checked = []


def pydicom_values(path):
    ds = pydicom.dcmread(path)
    return apply_modality_lut(ds.pixel_array, ds).astype(np.float64), ds


def ichseg_values(path, tmp, any_modality=True):
    out = os.path.join(tmp, "v.f32")
    args = ["slice", path, out] + (["--any-modality"] if any_modality else [])
    info, _ = peerlib.tool(TOOL, *args)
    return peerlib.read_f32(out, (info["rows"], info["cols"])).astype(np.float64), info


def same(path, tmp, label, tol=0.0):
    a, ds = pydicom_values(path)
    b, info = ichseg_values(path, tmp)
    assert a.shape == b.shape, (label, a.shape, b.shape)
    d = float(np.abs(a - b).max())
    assert d <= tol, f"{label}: max |ichseg - pydicom| = {d} > {tol}"
    checked.append((label, str(ds.file_meta.TransferSyntaxUID), d))
    return d


def pydicom_package_files(tmp):
    d = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
    for name in ["693_J2KI.dcm", "J2K_pixelrep_mismatch.dcm", "MR_small_jp2klossless.dcm", "JPEG2000.dcm"]:
        p = os.path.join(d, name)
        if os.path.exists(p):
            same(p, tmp, "pydicom data " + name)
    for name, why in [("SC_rgb_gdcm_KY.dcm", "SamplesPerPixel 3"), ("GDCMJ2K_TextGBR.dcm", "SamplesPerPixel 3"),
                      ("JPEG2000-embedded-sequence-delimiter.dcm", "codestream image is")]:
        p = os.path.join(d, name)
        if os.path.exists(p):
            err = peerlib.tool_fails(TOOL, "slice", p, os.path.join(tmp, "x.f32"), "--any-modality")
            assert name in err and why in err, err
            checked.append(("refused " + name, "", 0.0))


def pydicom_matrix(tmp):
    n = 0
    for ba, bss in [(8, [6, 8]), (16, [9, 12, 14, 16])]:
        for bs in bss:
            for signed in (False, True):
                lo, hi = (-(1 << (bs - 1)), (1 << (bs - 1)) - 1) if signed else (0, (1 << bs) - 1)
                for mode in ("90", "91", "91lossy"):
                    for frags in (1, 3):
                        v = peerlib.head_pattern(40, 48, lo, hi, seed=n)
                        ds = peerlib.ct_dataset(v, bits_allocated=ba, bits_stored=bs, signed=signed,
                                                intercept=-1024.0 if bs > 8 else 0.0)
                        peerlib.compress_j2k(ds, lossless=mode != "91lossy", syntax90=mode == "90", ratio=5,
                                             fragments=frags)
                        p = os.path.join(tmp, f"m{n}.dcm")
                        ds.save_as(p, enforce_file_format=True)
                        same(p, tmp, f"pydicom-written BitsAllocated {ba} BitsStored {bs} signed {signed} {mode} "
                                     f"fragments {frags}")
                        n += 1


def ichseg_written(tmp):
    n = 0
    for ba, bs, pr in [(16, 16, 1), (16, 12, 0), (16, 12, 1), (8, 8, 0), (8, 7, 1)]:
        lo, hi = (-(1 << (bs - 1)), (1 << (bs - 1)) - 1) if pr else (0, (1 << bs) - 1)
        inter = -1024.0 if ba == 16 else 0.0
        for ts, ratio, frags in [("jpeg2000_lossless", 0, 1), ("jpeg2000", 0, 4), ("jpeg2000", 6, 2)]:
            stored = peerlib.head_pattern(36, 44, lo, hi, seed=100 + n)
            hu = (stored + inter).astype("<f4")
            vals, spec = os.path.join(tmp, "in.f32"), os.path.join(tmp, "spec.json")
            hu.tofile(vals)
            with open(spec, "w") as f:
                json.dump({"rows": 36, "cols": 44, "bits_allocated": ba, "bits_stored": bs,
                           "pixel_representation": pr, "slope": 1.0, "intercept": inter, "transfer_syntax": ts,
                           "fragments": frags, "j2k_ratio": ratio}, f)
            p = os.path.join(tmp, f"w{n}.dcm")
            peerlib.tool(TOOL, "write", p, spec, vals)
            same(p, tmp, f"ichseg-written {ts} ratio {ratio} BitsAllocated {ba} BitsStored {bs} signed {pr} "
                         f"fragments {frags}")
            if ratio == 0:
                a, _ = pydicom_values(p)
                assert (a == hu.astype(np.float64)).all(), p
            n += 1


def other_syntaxes(tmp):
    from pydicom.uid import DeflatedExplicitVRLittleEndian, RLELossless
    v = peerlib.head_pattern(40, 48, 0, 4000, seed=7)
    base = os.path.join(tmp, "base.dcm")
    peerlib.ct_dataset(v, bits_stored=12, signed=False, intercept=-1024.0).save_as(base, enforce_file_format=True)
    same(base, tmp, "explicit VR little endian")
    ds = pydicom.dcmread(base)
    ds.compress(RLELossless, encoding_plugin="pydicom")
    ds.save_as(os.path.join(tmp, "rle.dcm"), enforce_file_format=True)
    same(os.path.join(tmp, "rle.dcm"), tmp, "RLE (pydicom encoder)")
    ds = pydicom.dcmread(base)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(os.path.join(tmp, "deflate.dcm"), enforce_file_format=True)
    same(os.path.join(tmp, "deflate.dcm"), tmp, "deflated explicit VR little endian (pydicom)")
    # DCMTK's encoders (dcmtk package); pydicom decodes JPEG with pylibjpeg-libjpeg (or pillow for 8-bit).
    v8 = peerlib.head_pattern(40, 48, 0, 255, seed=8)
    base8 = os.path.join(tmp, "base8.dcm")
    peerlib.ct_dataset(v8, bits_allocated=8, bits_stored=8, signed=False, intercept=-100.0).save_as(
        base8, enforce_file_format=True)
    # pylibjpeg-libjpeg decodes JPEG (all processes) and JPEG-LS for pydicom
    jpeg = _importable("libjpeg")
    jobs = [("dcmcjpeg", ["+e1"], base, "JPEG lossless SV1 (DCMTK encoder)", 0.0, jpeg),
            ("dcmcjpeg", ["+el"], base, "JPEG lossless process 14 (DCMTK encoder)", 0.0, jpeg),
            ("dcmcjpls", ["+el"], base, "JPEG-LS lossless (DCMTK encoder)", 0.0, jpeg),
            ("dcmcjpls", ["+en"], base, "JPEG-LS near-lossless (DCMTK encoder)", 0.0, jpeg),
            ("dcmcjpeg", ["+eb"], base8, "JPEG baseline (DCMTK encoder)", 2.0, jpeg),
            ("dcmcjpeg", ["+ee"], base, "JPEG extended 12-bit (DCMTK encoder)", 4.0, jpeg)]
    for exe, opts, src, label, tol, decodable in jobs:
        if not shutil.which(exe):
            print(f"{exe} not installed: '{label}' not checked")
            continue
        if not decodable:
            print(f"pydicom has no decoder plugin for '{label}': not checked")
            continue
        out = os.path.join(tmp, exe + opts[0].strip("+") + os.path.basename(src))
        subprocess.run([exe, *opts, src, out], check=True)
        # Lossy JPEG: the standard fixes the IDCT only to an accuracy (ITU-T T.81 Annex A.3.3), and DCMTK (IJG
        # libjpeg) and pylibjpeg (Thomas Richter's libjpeg) round differently: a few stored units apart.
        same(out, tmp, label, tol)


def _importable(m):
    try:
        __import__(m)
        return True
    except Exception:
        return False


def main():
    with tempfile.TemporaryDirectory(prefix="ichseg-j2k-peer-") as tmp:
        pydicom_package_files(tmp)
        pydicom_matrix(tmp)
        ichseg_written(tmp)
        other_syntaxes(tmp)
    for label, ts, d in checked:
        print(f"  {label:<80} {ts:<24} max diff {d:g}")
    print(f"{len(checked)} files: ichseg and pydicom {pydicom.__version__} agree")


if __name__ == "__main__":
    main()
