"""PyTorch side of benchmarks/bench_cuda_layers.cpp: fprop, dgrad and wgrad of every convolution of the paper's
U-Net at batch 32 (256 x 256 input), eager cuDNN (cudnn.benchmark=True) in fp32, tf32, and bf16 (bf16 tensors in
channels_last, as torch.autocast would run them). dgrad / wgrad are timed separately through
torch.ops.aten.convolution_backward with an output mask. One JSON line per measurement (median GPU ms).

usage: python3 gpu_layers.py [--modes fp32,tf32,bf16] [--batch 32]
"""
import argparse

import torch

from gpu_common import emit, set_mode, time_ms


def layers(batch):
    out, cin, base, size = [], 1, 32, 256
    for lvl in range(5):
        w, hw = base << lvl, size >> lvl
        out += [(f'enc{lvl}.conv1', batch, cin, hw, w // 2, 3, 1, 1), (f'enc{lvl}.conv2', batch, w // 2, hw, w, 3, 1, 1)]
        cin = w
    for i in range(4):
        cin, hw = base << (4 - i), size >> (3 - i)
        c = cin // 2
        out += [(f'dec{i}.up(T)', batch, c, hw, cin, 2, 2, 0), (f'dec{i}.conv1', batch, 2 * c, hw, c, 3, 1, 1),
                (f'dec{i}.conv2', batch, c, hw, c, 3, 1, 1)]
    out.append(('head', batch, base, size, 1, 1, 1, 0))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--modes', default='fp32,tf32,bf16')
    ap.add_argument('--batch', type=int, default=32)
    a = ap.parse_args()
    for mode in a.modes.split(','):
        set_mode(mode)
        dt = torch.bfloat16 if mode == 'bf16' else torch.float32
        fmt = torch.channels_last if mode == 'bf16' else torch.contiguous_format
        for name, n, c, h, k, r, stride, pad in layers(a.batch):
            x = torch.randn(n, c, h, h, device='cuda', dtype=dt).to(memory_format=fmt)
            w = torch.randn(k, c, r, r, device='cuda', dtype=dt).to(memory_format=fmt)
            y = torch.nn.functional.conv2d(x, w, None, stride, pad)
            dy = torch.randn_like(y).to(memory_format=fmt)
            p = y.shape[-1]
            flops = 2.0 * n * k * c * r * r * p * p

            def bwd(mask):
                return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [stride] * 2, [pad] * 2, [1, 1],
                                                                   False, [0, 0], 1, mask)
            for role, fn in (('fprop', lambda: torch.nn.functional.conv2d(x, w, None, stride, pad)),
                             ('dgrad', bwd([True, False, False])), ('wgrad', bwd([False, True, False]))):
                ms = time_ms(fn, warmup=2, min_runs=5, min_seconds=0.1)
                emit(bench='conv', layer=name, role=role, mode=mode, framework='pytorch', ms=ms,
                     tflops=flops / ms / 1e9)
            del x, w, y, dy


if __name__ == '__main__':
    main()
