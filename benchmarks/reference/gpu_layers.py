"""PyTorch side of benchmarks/bench_cuda_layers.cpp: fprop, dgrad and wgrad of the paper U-Net's convolutions at
batch 32 (256 x 256 input), eager cuDNN (cudnn.benchmark=True) in fp32, tf32, and bf16 (bf16 tensors in
channels_last, as torch.autocast would run them). dgrad / wgrad are timed separately through
torch.ops.aten.convolution_backward with an output mask. One JSON line per measurement (median GPU ms), printed
as soon as it is measured. The layer lists: gpu_unet_layers.py.

usage: python3 gpu_layers.py [--set compact|full] [--modes tf32,bf16] [--batch 32] [--min-seconds 0.1]
  --set compact (default): the 15 layers of gpu_unet_layers.COMPACT in tf32 and bf16 (tools/gpu_verify.sh)
  --set full: all 23 layers in fp32, tf32 and bf16
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_common import emit, set_mode, time_ms  # noqa: E402
from gpu_unet_layers import ROLES, TORCH_MODES, flops, selected  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--set', default='compact', choices=('compact', 'full'))
    ap.add_argument('--modes', default=None, help='comma-separated; default: the set\'s modes')
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--min-seconds', type=float, default=0.1)
    a = ap.parse_args()
    modes = a.modes.split(',') if a.modes else TORCH_MODES[a.set]
    for mode in modes:
        set_mode(mode)
        dt = torch.bfloat16 if mode == 'bf16' else torch.float32
        fmt = torch.channels_last if mode == 'bf16' else torch.contiguous_format
        for layer in selected(a.set, a.batch):
            name, n, c, h, k, r, stride, pad = layer
            x = torch.randn(n, c, h, h, device='cuda', dtype=dt).to(memory_format=fmt)
            w = torch.randn(k, c, r, r, device='cuda', dtype=dt).to(memory_format=fmt)
            y = torch.nn.functional.conv2d(x, w, None, stride, pad)
            dy = torch.randn_like(y).to(memory_format=fmt)

            def bwd(mask):
                return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [stride] * 2, [pad] * 2, [1, 1],
                                                                   False, [0, 0], 1, mask)
            fns = {'fprop': lambda: torch.nn.functional.conv2d(x, w, None, stride, pad),
                   'dgrad': bwd([True, False, False]), 'wgrad': bwd([False, True, False])}
            for role in ROLES:
                ms = time_ms(fns[role], warmup=2, min_runs=5, min_seconds=a.min_seconds)
                emit(bench='conv', layer=name, role=role, mode=mode, framework='pytorch', ms=ms,
                     tflops=flops(layer) / ms / 1e9)
            del x, w, y, dy


if __name__ == '__main__':
    main()
