#!/usr/bin/env python3
"""CTest "predict: PyTorch round trip" (tests/predict/CMakeLists.txt): ichseg <-> PyTorch through model files, and
the ichseg_predict outputs read by an independent NIfTI reader (nibabel).

  1. predict_make_model (C++, nn::save_model) writes a small U-Net with random weights and random batch-norm
     statistics; tools/torch_interop.py loads it into benchmarks/reference/ichseg_torch.py's UNet (strict: the
     state_dict keys and shapes must match) and writes it back; every tensor and the metadata must be identical,
     and ichseg_predict must give bit-identical probabilities with the original and the round-tripped file.
  2. PyTorch probabilities (ichseg's preprocessing in PyTorch, float64 and float32) vs ichseg_predict
     --probabilities on the same NIfTI volume, within the fp32 tolerance stated at TOL_PROB below.
  3. nibabel reads <case>_seg.nii.gz and <case>_prob.nii.gz: the mask has the source shape and affine (sform and
     qform), is binary uint8, and the report's volume is its voxel count times nibabel's voxel volume; the
     probability map has the network grid's affine.

Exit 0: passed; 1: a check failed; 77 (CTest: Skipped): torch, safetensors, numpy or nibabel is missing.
  python3 torch_roundtrip_test.py --predict PATH/ichseg_predict --make-model PATH/predict_make_model
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

try:
    import nibabel as nib
    import numpy as np
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
except ImportError as e:  # the optional Python side is not installed: nothing to compare against
    print(f'skipped: {e}')
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tools'))
import torch_interop as ti  # noqa: E402

# Probabilities, ichseg (fp32, default convolution algorithms: Winograd F(2x2,3x3) on eligible layers) vs PyTorch
# in float64. fp32 rounding of a U-Net of this size, plus the Winograd transforms' extra ~1e-6 relative rounding
# per layer (docs/design.md), gives differences of order 1e-6 on probabilities in (0, 1); 5e-5 leaves a margin
# and is the bound tests/predict/test_interop.cpp uses for the same path. A mix-up of batch-norm statistics,
# resize, window or layout gives differences of order 1e-2 or more.
TOL_PROB = 5e-5

failures = []


def check(ok, what):
    print(('ok    ' if ok else 'FAIL  ') + what)
    if not ok:
        failures.append(what)


def run(argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        print(r.stdout)
        raise SystemExit(f'{argv[0]} exited with {r.returncode}')
    return r.stdout


def synthetic_head(nx, ny, nz, seed):
    """An int16 HU volume (x, y, z order, as nibabel holds it): air, an elliptic skull ring, brain with noise and a
    hyperdense blob that moves from slice to slice. It passes ichseg's head-CT plausibility check."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.arange(nx, dtype=np.float64), np.arange(ny, dtype=np.float64), indexing='ij')
    vol = np.empty((nx, ny, nz), dtype=np.float64)
    for k in range(nz):
        r = np.sqrt(((x - nx / 2) / (0.45 * nx)) ** 2 + ((y - ny / 2) / (0.42 * ny)) ** 2)
        s = np.full((nx, ny), -1000.0)
        s[r < 1.0] = 1100.0
        s[r < 0.87] = 35.0
        blob = np.sqrt((x - 0.6 * nx - 2 * k) ** 2 + (y - 0.4 * ny) ** 2) < 5 + k
        s[blob & (r < 0.87)] = 70.0
        vol[:, :, k] = s + rng.normal(0, 8, size=(nx, ny))
    return np.clip(np.rint(vol), -1024, 3071).astype(np.int16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--predict', required=True, help='ichseg_predict binary')
    ap.add_argument('--make-model', required=True, help='predict_make_model binary')
    a = ap.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory(prefix='ichseg-torch-roundtrip-') as d:
        # 1. ichseg -> PyTorch -> ichseg.
        model = os.path.join(d, 'ichseg_model.safetensors')
        # Seed 37, head x20: on this volume the probabilities span about 0.28 .. 0.63, so they are not near-constant
        # and the mask is neither empty nor full.
        run([a.make_model, model, '37', '4', '3', '2', '64', '20'])
        net, md = ti.load_model(model)  # strict load_state_dict: raises on any key / shape mismatch
        check(set(net.state_dict()) == set(load_file(model)), 'PyTorch UNet state_dict keys == ichseg file keys')
        back = os.path.join(d, 'back.safetensors')
        ti.save_model(net, md, back)
        t1, t2 = load_file(model), load_file(back)
        same = set(t1) == set(t2) and all(t1[k].dtype == t2[k].dtype and torch.equal(t1[k], t2[k]) for k in t1)
        check(same, f'ichseg -> PyTorch -> file: {len(t1)} tensors identical (values and dtypes)')
        with safe_open(back, framework='pt') as f:
            md2 = f.metadata()
        check(all(md2.get(k) == v for k, v in md.items() if k.startswith('ichseg.') and k != 'ichseg.unet') and
              json.loads(md2['ichseg.unet']) == json.loads(md['ichseg.unet']), 'metadata identical after the round trip')
        check(run([sys.executable, os.path.join(HERE, '..', '..', 'tools', 'torch_interop.py'), 'roundtrip', model])
              .strip().endswith('identical (%d tensors, metadata, outputs)' % len(t1)), 'torch_interop.py roundtrip')

        # The input: 80 x 96 x 6 voxels of 0.55 x 0.5 x 5 mm, x flipped (a radiological-order NIfTI), offset origin.
        nx, ny, nz = 80, 96, 6
        affine = np.array([[-0.55, 0, 0, 21.0], [0, 0.5, 0, -23.5], [0, 0, 5.0, -12.0], [0, 0, 0, 1]])
        img = nib.Nifti1Image(synthetic_head(nx, ny, nz, 3), affine)
        img.set_qform(affine, code=1)
        img.set_sform(affine, code=1)
        vol = os.path.join(d, 'in', 'head.nii.gz')
        os.makedirs(os.path.dirname(vol))
        nib.save(img, vol)

        out1, out2 = os.path.join(d, 'out1'), os.path.join(d, 'out2')
        run([a.predict, '-m', model, '-o', out1, vol, '--probabilities', '-q'])
        run([a.predict, '-m', back, '-o', out2, vol, '--probabilities', '-q'])
        p1 = np.asarray(nib.load(os.path.join(out1, 'head_prob.nii.gz')).dataobj)
        p2 = np.asarray(nib.load(os.path.join(out2, 'head_prob.nii.gz')).dataobj)
        check(p1.dtype == np.float32 and np.array_equal(p1, p2),
              'ichseg_predict: original and round-tripped model files give bit-identical probabilities')

        # 2. PyTorch probabilities on the same volume vs ichseg's.
        S = int(md['ichseg.input_size'])
        hu = torch.from_numpy(np.asarray(nib.load(vol).dataobj, dtype=np.float32).transpose(2, 1, 0).copy())
        ref64 = ti.probabilities(net, md, hu, torch.float64).numpy()  # (nz, S, S)
        ref32 = ti.probabilities(net, md, hu, torch.float32).numpy()
        ours = p1.transpose(2, 1, 0).astype(np.float64)  # nibabel (x, y, z) -> (z, y, x)
        check(ours.shape == (nz, S, S), f'probability map is on the {S} x {S} network grid ({ours.shape})')
        spread = float(ref64.max() - ref64.min())
        check(spread > 0.2, f'the model output is not near-constant (PyTorch probabilities {ref64.min():.3f} .. '
                            f'{ref64.max():.3f})')
        d64 = float(np.abs(ours - ref64).max())
        d32 = float(np.abs(ours - ref32).max())
        dt = float(np.abs(ref32.astype(np.float64) - ref64).max())
        print(f'      max |ichseg - torch fp64| = {d64:.3g}, |ichseg - torch fp32| = {d32:.3g}, '
              f'|torch fp32 - torch fp64| = {dt:.3g}')
        check(d64 < TOL_PROB, f'ichseg probabilities == PyTorch float64 within {TOL_PROB}')
        check(d32 < TOL_PROB, f'ichseg probabilities == PyTorch float32 within {TOL_PROB}')

        # 3. The outputs through nibabel.
        seg = nib.load(os.path.join(out1, 'head_seg.nii.gz'))
        m = np.asarray(seg.dataobj)
        check(m.shape == (nx, ny, nz) and m.dtype == np.uint8, f'mask: source shape, uint8 ({m.shape}, {m.dtype})')
        check(set(np.unique(m).tolist()) <= {0, 1}, 'mask is binary')
        check(0 < m.sum() < m.size, f'mask is neither empty nor full ({int(m.sum())} of {m.size} voxels)')
        check(np.allclose(seg.affine, affine, rtol=0, atol=1e-6), 'mask affine (nibabel best affine) == source affine')
        check(int(seg.header['sform_code']) == 1 and np.allclose(seg.get_sform(), affine, rtol=0, atol=1e-6),
              'mask sform: code 1 (scanner), source affine')
        check(int(seg.header['qform_code']) == 1 and np.allclose(seg.get_qform(), affine, rtol=0, atol=1e-4),
              'mask qform: code 1, source affine (quaternion storage: 1e-4)')
        rep = json.load(open(os.path.join(out1, 'head_report.json')))['report']
        vox_ml = float(np.prod(seg.header.get_zooms()[:3])) / 1000.0
        check(rep['hemorrhage_voxels'] == int(m.sum()), f'report voxels == mask voxels ({int(m.sum())})')
        # The header keeps spacing and affine in float32 (relative rounding ~6e-8 per factor): relative 1e-6.
        check(abs(rep['hemorrhage_volume_ml'] - m.sum() * vox_ml) <= 1e-6 * m.sum() * vox_ml,
              f'report volume {rep["hemorrhage_volume_ml"]:.4f} mL == voxels x nibabel voxel volume')
        prob = nib.load(os.path.join(out1, 'head_prob.nii.gz'))
        # Network pixel i sits at source index (i + 0.5) * n / S - 0.5 (half-pixel centres of the resize).
        scale = np.diag([nx / S, ny / S, 1.0, 1.0])
        scale[0, 3], scale[1, 3] = (nx / S - 1) / 2, (ny / S - 1) / 2
        check(np.allclose(prob.affine, affine @ scale, rtol=0, atol=1e-5),
              'probability map affine == network grid (half-pixel centres) in source space')

    if failures:
        print(f'{len(failures)} check(s) failed')
        return 1
    print('all checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
