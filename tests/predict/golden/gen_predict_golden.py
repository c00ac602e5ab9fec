#!/usr/bin/env python3
"""Golden values for tests/predict/test_interop.cpp (PyTorch -> ichseg parity of the prediction path).

Writes, next to this script:
  interop_model.safetensors  an ichseg model file written from PyTorch (tools/torch_interop.py save_model):
                             UNet(base_width=4, depth=3, mid_channels_factor=2), input size 32, window [-50, 150],
                             random weights and random BN running statistics / affine parameters, so that
                             eval-mode batch norm is exercised (fresh statistics 0 / 1 would hide a mean /
                             variance mix-up); the head is rescaled so that the logits on the case have mean 0
                             and sd 2 (probabilities spread over most of (0, 1), not near-constants);
  interop_case.safetensors   hu (3, 40, 48): a small synthetic head slice stack in HU (non-square, so the resize
                             is anisotropic and down-sampling), x64 (3, 1, 32, 32): the preprocessed network input
                             (window, anti-aliased bilinear resize) in float64, prob32 / prob64: the sigmoid output of
                             PyTorch in float32 and in float64 (the reference for the tolerance).
Run: python3 tests/predict/golden/gen_predict_golden.py   (torch, safetensors; CPU, deterministic)
"""
import json
import math
import os
import sys

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', 'tools'))
import torch_interop as ti  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(606)

cfg = dict(in_channels=1, out_channels=1, base_width=4, depth=3, mid_channels_factor=2, sigmoid=True)
md = {'ichseg.model': 'UNet', 'ichseg.unet': json.dumps(cfg), 'ichseg.window': json.dumps([-50.0, 150.0]),
      'ichseg.input_size': '32', 'ichseg.target': 'ich',
      'ichseg.description': 'golden: tests/predict/golden/gen_predict_golden.py'}
net = ti.build(md)
with torch.no_grad():
    for name, m in net.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.3, 0.3)
            m.num_batches_tracked.fill_(7)
net.eval()
ti.save_model(net, md, os.path.join(HERE, 'interop_model.safetensors'))

# A synthetic head in HU: air, skull ring, brain, a hyperdense blob, noise.
nz, ny, nx = 3, 40, 48
yy, xx = torch.meshgrid(torch.arange(ny, dtype=torch.float64), torch.arange(nx, dtype=torch.float64), indexing='ij')
hu = torch.empty(nz, ny, nx, dtype=torch.float64)
g = torch.Generator().manual_seed(7)
for k in range(nz):
    r = torch.sqrt(((yy - 19.5) / 17) ** 2 + ((xx - 23.5) / 21) ** 2)
    s = torch.full((ny, nx), -1000.0, dtype=torch.float64)
    s[r < 1.0] = 1200.0
    s[r < 0.85] = 38.0
    blob = torch.sqrt((yy - 15 - 2 * k) ** 2 + (xx - 28) ** 2) < 4 + k
    s[blob & (r < 0.85)] = 72.0
    s += torch.randn(ny, nx, generator=g, dtype=torch.float64) * 6
    hu[k] = s
hu32 = hu.to(torch.float32)
with torch.no_grad():
    net.head.bias.zero_()
    lg = torch.logit(ti.probabilities(net, md, hu32, torch.float64)).float()
    a = 2.0 / lg.std().item()
    net.head.weight.mul_(a)
    net.head.bias.fill_(-a * lg.mean().item())
ti.save_model(net, md, os.path.join(HERE, 'interop_model.safetensors'))
x64 = ti.preprocess(hu32.to(torch.float64), json.loads(md['ichseg.window']), 32)
p32 = ti.probabilities(net, md, hu32, torch.float32)
p64 = ti.probabilities(net, md, hu32, torch.float64)
save_file({'hu': hu32.contiguous(), 'x64': x64.contiguous(), 'prob32': p32.contiguous().float(),
           'prob64': p64.contiguous()}, os.path.join(HERE, 'interop_case.safetensors'),
          metadata={'generator': 'tests/predict/golden/gen_predict_golden.py, torch ' + torch.__version__})
print('max |prob32 - prob64| =', (p32.double() - p64).abs().max().item(), ' prob range',
      p64.min().item(), p64.max().item())
