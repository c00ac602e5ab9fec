"""Writes the checked-in JPEG 2000 test files (tests/io/data/jpeg2000/) with pydicom + pylibjpeg-openjpeg, i.e.
encoded and encapsulated by other software than ichseg, and `expected.json` with pydicom's decoded stored values,
so that tests/io/test_jpeg2000.cpp checks ichseg's decoder against a peer without needing Python.

Usage: python3 tests/io/peers/make_jpeg2000_fixtures.py [out folder]   (needs pydicom, numpy, pylibjpeg,
pylibjpeg-openjpeg). Re-running changes the UIDs but not the pixel values of the lossless files."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402

np, pydicom = peerlib.need("numpy", "pydicom")
peerlib.need("openjpeg")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "data", "jpeg2000")
ROWS, COLS = 40, 48

# name: (modality, bits allocated, bits stored, signed, slope, intercept, value range, syntax .90?, lossless?,
#        ratio, fragments)
CASES = {
    "ct_s16_90.dcm": ("CT", 16, 16, True, 1.0, 0.0, (-1024, 2000), True, True, None, 1),
    "ct_u12_90_3frag.dcm": ("CT", 16, 12, False, 1.0, -1024.0, (0, 3500), True, True, None, 3),
    "ct_u10_90.dcm": ("CT", 16, 10, False, 2.0, -1024.0, (0, 1023), True, True, None, 1),
    "ct_s12_91_lossy.dcm": ("CT", 16, 12, True, 1.0, 0.0, (-1024, 2000), False, False, 6, 1),
    "ct_u16_91_lossy_2frag.dcm": ("CT", 16, 16, False, 0.5, -1024.0, (0, 6000), False, False, 10, 2),
    "ct_s8_91.dcm": ("CT", 8, 8, True, 10.0, 40.0, (-100, 120), False, True, None, 1),
    "mr_u16_90.dcm": ("MR", 16, 16, False, None, None, (0, 1400), True, True, None, 1),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for seed, (name, c) in enumerate(sorted(CASES.items())):
        modality, ba, bs, signed, slope, inter, (lo, hi), s90, lossless, ratio, frags = c
        v = peerlib.head_pattern(ROWS, COLS, lo, hi, seed + 1)
        ds = peerlib.ct_dataset(v, modality=modality, bits_allocated=ba, bits_stored=bs, signed=signed,
                                slope=slope if slope is not None else 1.0,
                                intercept=inter if inter is not None else 0.0, patient="J2KFIXTURE")
        if slope is None:
            del ds.RescaleSlope
            del ds.RescaleIntercept
        peerlib.compress_j2k(ds, lossless=lossless, syntax90=s90, ratio=ratio, fragments=frags)
        path = os.path.join(OUT, name)
        ds.save_as(path, enforce_file_format=True)
        back = pydicom.dcmread(path)
        arr = back.pixel_array.astype(np.int64)
        if lossless:
            assert (arr == v).all(), name + ": pydicom does not give back the lossless values"
        assert len(pydicom.encaps.get_frame(back.PixelData, 0, number_of_frames=1)) > 0
        expected[name] = {
            "rows": ROWS, "cols": COLS, "modality": modality, "transfer_syntax": str(back.file_meta.TransferSyntaxUID),
            "bits_allocated": ba, "bits_stored": bs, "signed": signed, "lossless": lossless, "fragments": frags,
            "slope": slope if slope is not None else 1.0, "intercept": inter if inter is not None else 0.0,
            "stored": arr.ravel().tolist(),
        }
        print(f"{name}: {os.path.getsize(path)} bytes, max |decoded - source| = {int(np.abs(arr - v).max())}")
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"generator": "tests/io/peers/make_jpeg2000_fixtures.py",
                   "pydicom": pydicom.__version__, "files": expected}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
