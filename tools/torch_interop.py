#!/usr/bin/env python3
"""Move ichseg models to and from PyTorch (docs/predict.md section 6). Needs torch and safetensors; ichseg itself
never needs Python.

An ichseg model file is a safetensors file whose tensor names are the PyTorch state_dict keys of
benchmarks/reference/ichseg_torch.py's UNet and whose metadata describes the model:
  ichseg.model = "UNet", ichseg.unet = JSON of UNet(**kwargs), ichseg.window = "[lo, hi]" (HU),
  ichseg.input_size = "256", ichseg.target = "ich" | "cavity", ichseg.description = free text.

Commands
  export MODEL.safetensors [--pt OUT.pt] [--overwrite]
      build the PyTorch module (strict load) and print its config; --pt saves
      {"state_dict", "ichseg_metadata"} with torch.save for users who prefer .pt files.
  import STATE (.pt | .safetensors) --out MODEL.safetensors [--like MODEL | --unet JSON]
         [--window LO HI] [--input-size S] [--target ich|cavity] [--description TEXT] [--overwrite]
      write an ichseg model file from a PyTorch state_dict (a .pt written by `export`, a bare state_dict .pt,
      or a safetensors file); the module is built from the config and loaded strictly first, so a mismatch is
      an error here, not in C++.
  roundtrip MODEL.safetensors
      export -> import into a temporary file -> compare every tensor bit for bit and the metadata, and run both
      PyTorch modules on a random batch: exit 0 when identical.
  predict MODEL.safetensors VOLUME.nii[.gz] OUT.safetensors [--overwrite]
      PyTorch probabilities on the network grid with ichseg's preprocessing (HU window, anti-aliased bilinear
      resize), key "prob" (nz, S, S), float32 (and "prob64", the same in float64).

Python API (used by the tests): load_model(path) -> (module, metadata); save_model(module, metadata, path);
preprocess(hu, window, size); probabilities(module, metadata, hu, dtype).
"""
import argparse
import copy
import json
import os
import sys
import tempfile

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'benchmarks', 'reference'))
import ichseg_torch  # noqa: E402

REQUIRED = ('ichseg.model', 'ichseg.unet', 'ichseg.window', 'ichseg.input_size')


def read_metadata(path):
    with safe_open(path, framework='pt') as f:
        md = f.metadata() or {}
    missing = [k for k in REQUIRED if k not in md]
    if missing:
        raise SystemExit(f'{path}: not an ichseg model file (metadata {missing} missing)')
    if md['ichseg.model'] != 'UNet':
        raise SystemExit(f"{path}: unsupported model type {md['ichseg.model']!r}")
    return md


def unet_kwargs(md):
    """ichseg.unet JSON -> UNet(**kwargs) arguments (the keys are the constructor's)."""
    return json.loads(md['ichseg.unet'])


def build(md):
    return ichseg_torch.UNet(**unet_kwargs(md))


def load_model(path):
    """The PyTorch UNet of an ichseg model file (eval mode) and the file's metadata."""
    md = read_metadata(path)
    net = build(md)
    net.load_state_dict(load_file(path), strict=True)
    net.eval()
    return net, md


def state_dict_of(net):
    return {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}


def save_model(net, md, path):
    """Write an ichseg model file (tensors as PyTorch keeps them: F32 and I64 num_batches_tracked)."""
    meta = {'format': 'pt'}
    meta.update({k: str(v) for k, v in md.items()})
    meta['ichseg.unet'] = json.dumps(unet_kwargs(md))
    save_file(state_dict_of(net), path, metadata=meta)


def preprocess(hu, window, size):
    """ichseg's preprocessing in PyTorch: (HU - lo) / (hi - lo) clipped to [0, 1], then the anti-aliased bilinear
    resize (torch antialias=True, half-pixel centres) to size x size. hu: (nz, ny, nx) tensor."""
    lo, hi = float(window[0]), float(window[1])
    x = ((hu - lo) * (1.0 / (hi - lo))).clamp(0, 1).unsqueeze(1)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False, antialias=True)
    return x


def probabilities(net, md, hu, dtype=torch.float32):
    """Sigmoid probabilities (nz, S, S) of the network on an HU volume (nz, ny, nx)."""
    window = json.loads(md['ichseg.window'])
    size = int(md['ichseg.input_size'])
    x = preprocess(hu.to(dtype), window, size)
    if next(net.parameters()).dtype != dtype:
        net = copy.deepcopy(net).to(dtype)  # never convert the caller's module in place
    with torch.no_grad():
        y = net(x)
        if not unet_kwargs(md).get('sigmoid', True):
            y = torch.sigmoid(y)
    return y[:, 0]


def refuse_existing(path, overwrite):
    if os.path.exists(path) and not overwrite:
        raise SystemExit(f'{path} exists already; pass --overwrite to replace it')


def cmd_export(a):
    if a.pt:
        refuse_existing(a.pt, a.overwrite)
    net, md = load_model(a.model)
    n = sum(p.numel() for p in net.parameters())
    print(f'{a.model}: UNet({md["ichseg.unet"]}), {n} parameters, window {md["ichseg.window"]} HU, '
          f'input {md["ichseg.input_size"]}, target {md.get("ichseg.target", "ich")}')
    if a.pt:
        torch.save({'state_dict': net.state_dict(), 'ichseg_metadata': md}, a.pt)
        print(f'wrote {a.pt}')
    return 0


def cmd_import(a):
    refuse_existing(a.out, a.overwrite)
    if a.state.endswith('.safetensors'):
        sd = load_file(a.state)
        with safe_open(a.state, framework='pt') as f:
            md = dict(f.metadata() or {})
    else:
        obj = torch.load(a.state, map_location='cpu', weights_only=True)
        md = dict(obj.get('ichseg_metadata', {})) if isinstance(obj, dict) and 'state_dict' in obj else {}
        sd = obj['state_dict'] if isinstance(obj, dict) and 'state_dict' in obj else obj
    if a.like:
        md.update({k: v for k, v in read_metadata(a.like).items() if k.startswith('ichseg.') and k not in md})
    if a.unet:
        md['ichseg.unet'] = a.unet
    if a.window:
        md['ichseg.window'] = json.dumps([a.window[0], a.window[1]])
    if a.input_size:
        md['ichseg.input_size'] = str(a.input_size)
    if a.target:
        md['ichseg.target'] = a.target
    if a.description is not None:
        md['ichseg.description'] = a.description
    md.setdefault('ichseg.model', 'UNet')
    md.setdefault('ichseg.window', json.dumps([-50, 150]))
    md.setdefault('ichseg.input_size', '256')
    md.setdefault('ichseg.target', 'ich')
    md.setdefault('ichseg.description', '')
    if 'ichseg.unet' not in md:
        raise SystemExit('import: the U-Net configuration is unknown: pass --like MODEL or --unet JSON')
    net = build(md)
    net.load_state_dict(sd, strict=True)
    save_model(net, {k: v for k, v in md.items() if k.startswith('ichseg.')}, a.out)
    print(f'wrote {a.out}')
    return 0


def cmd_roundtrip(a):
    net, md = load_model(a.model)
    with tempfile.TemporaryDirectory() as d:
        back = os.path.join(d, 'back.safetensors')
        save_model(net, md, back)
        t1, t2 = load_file(a.model), load_file(back)
        if set(t1) != set(t2):
            raise SystemExit(f'roundtrip: keys differ: {sorted(set(t1) ^ set(t2))}')
        bad = [k for k in t1 if t1[k].dtype != t2[k].dtype or not torch.equal(t1[k], t2[k])]
        if bad:
            raise SystemExit(f'roundtrip: tensors differ: {bad[:5]}')
        md2 = read_metadata(back)
        for k in md:
            if k.startswith('ichseg.') and k != 'ichseg.unet' and md[k] != md2.get(k):
                raise SystemExit(f'roundtrip: metadata {k} differs: {md[k]!r} vs {md2.get(k)!r}')
        if json.loads(md['ichseg.unet']) != json.loads(md2['ichseg.unet']):
            raise SystemExit('roundtrip: ichseg.unet differs')
        net2, _ = load_model(back)
        size = int(md['ichseg.input_size'])
        x = torch.rand(2, 1, size, size, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            if not torch.equal(net(x), net2(x)):
                raise SystemExit('roundtrip: outputs differ')
    print(f'{a.model}: round trip identical ({len(t1)} tensors, metadata, outputs)')
    return 0


def cmd_predict(a):
    import nibabel as nib
    import numpy as np
    refuse_existing(a.out, a.overwrite)
    net, md = load_model(a.model)
    img = nib.load(a.volume)
    hu = np.asarray(img.dataobj, dtype=np.float64) * 1.0  # scl_slope / scl_inter applied by nibabel
    hu = torch.from_numpy(np.ascontiguousarray(hu.transpose(2, 1, 0))).to(torch.float32)  # (nz, ny, nx)
    p32 = probabilities(net, md, hu, torch.float32).contiguous()
    p64 = probabilities(net, md, hu, torch.float64).contiguous()
    save_file({'prob': p32, 'prob64': p64}, a.out)
    print(f'wrote {a.out}: {tuple(p32.shape)}')
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    e = sub.add_parser('export')
    e.add_argument('model')
    e.add_argument('--pt')
    e.add_argument('--overwrite', action='store_true', help='replace an existing --pt file')
    i = sub.add_parser('import')
    i.add_argument('state')
    i.add_argument('--out', required=True)
    i.add_argument('--like')
    i.add_argument('--unet')
    i.add_argument('--window', type=float, nargs=2)
    i.add_argument('--input-size', type=int)
    i.add_argument('--target')
    i.add_argument('--description')
    i.add_argument('--overwrite', action='store_true', help='replace an existing --out file')
    r = sub.add_parser('roundtrip')
    r.add_argument('model')
    p = sub.add_parser('predict')
    p.add_argument('model')
    p.add_argument('volume')
    p.add_argument('out')
    p.add_argument('--overwrite', action='store_true', help='replace an existing OUT file')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    return {'export': cmd_export, 'import': cmd_import, 'roundtrip': cmd_roundtrip, 'predict': cmd_predict}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())
