"""Shared helpers of the I/O peer tests (tests/io/peers/*_test.py): optional imports that turn into a CTest
"Skipped" (exit 77), pydicom datasets written the way other software writes them, and running io_peer_tool
(tests/io/io_peer_tool.cpp), which prints what ichseg reads as JSON and writes the voxels as raw float32."""
import json
import os
import subprocess
import sys

SKIP = 77


def need(*modules):
    """Import the named modules or exit 77 (CTest: Skipped) naming the first one missing."""
    out = []
    for m in modules:
        try:
            out.append(__import__(m, fromlist=["_"]))
        except Exception as e:  # ImportError, or a broken install
            print(f"{m} not available ({e}): skipped")
            sys.exit(SKIP)
    return out


def tool(exe, *args):
    """Run io_peer_tool; returns (json, stderr). Raises on a non-zero exit with its message."""
    r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"io_peer_tool {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr.strip()}")
    return json.loads(r.stdout), r.stderr


def tool_fails(exe, *args):
    """Run io_peer_tool expecting failure; returns its stderr."""
    r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
    if r.returncode == 0:
        raise AssertionError(f"io_peer_tool {' '.join(map(str, args))} succeeded but should have failed")
    return r.stderr


def read_f32(path, shape):
    import numpy as np
    return np.fromfile(path, dtype="<f4").reshape(shape)


def new_uid():
    from pydicom.uid import generate_uid
    return generate_uid()


def ct_dataset(stored, *, modality="CT", bits_allocated=16, bits_stored=16, signed=True, slope=1.0,
               intercept=0.0, patient="PEER", study=None, series=None, position=(0.0, 0.0, 0.0),
               orientation=(1, 0, 0, 0, 1, 0), spacing=(0.5, 0.5), thickness=None, instance=None,
               frame_of_reference=None):
    """An uncompressed (explicit VR little endian) single-frame image dataset holding `stored` (2-D numpy
    array of stored values, rows x columns) with the given header."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, MRImageStorage, ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = new_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.Modality = modality
    ds.PatientID = patient
    ds.PatientName = patient
    ds.StudyInstanceUID = study or new_uid()
    ds.SeriesInstanceUID = series or new_uid()
    ds.FrameOfReferenceUID = frame_of_reference or new_uid()
    if instance is not None:
        ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [float(v) for v in spacing]
    if thickness is not None:
        ds.SliceThickness = thickness
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    dt = {(8, False): np.uint8, (8, True): np.int8, (16, False): np.uint16, (16, True): np.int16}[(bits_allocated, signed)]
    arr = np.ascontiguousarray(stored.astype(dt))
    ds.PixelData = arr.tobytes()
    return ds


def compress_j2k(ds, *, lossless=True, syntax90=True, ratio=None, fragments=1):
    """Compress `ds` in place with pydicom's JPEG 2000 encoder (pylibjpeg-openjpeg): .90 (lossless only) or .91
    (lossless, or lossy at compression ratio `ratio`), the codestream split over `fragments` fragments."""
    from pydicom.encaps import encapsulate
    from pydicom.pixels.encoders import JPEG2000Encoder, JPEG2000LosslessEncoder
    from pydicom.uid import JPEG2000, JPEG2000Lossless
    assert lossless or not syntax90
    if lossless:  # reversible wavelet; .91 allows it too ("lossless or lossy")
        frame = JPEG2000LosslessEncoder.encode(ds, encoding_plugin="pylibjpeg")
    else:
        frame = JPEG2000Encoder.encode(ds, encoding_plugin="pylibjpeg", j2k_cr=[ratio])
    uid = JPEG2000Lossless if syntax90 else JPEG2000
    ds.PixelData = encapsulate([frame], fragments_per_frame=fragments)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = uid
    if not lossless:
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = "ISO_15444_1"
    return frame


def head_pattern(rows, cols, lo, hi, seed):
    """Deterministic test image: a smooth disc (a head) with an inner ring, a gradient and noise, scaled to [lo, hi]
    and rounded to integers."""
    import numpy as np
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    r = np.hypot((y - rows / 2) / (rows / 2.2), (x - cols / 2) / (cols / 2.2))
    img = np.where(r < 1, 0.45 + 0.15 * np.cos(6 * r), 0.0) + np.where((r > 0.85) & (r < 1), 0.4, 0.0)
    img = img + 0.1 * x / cols + 0.03 * rng.randn(rows, cols)
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(lo + img * (hi - lo)).astype(np.int64)
