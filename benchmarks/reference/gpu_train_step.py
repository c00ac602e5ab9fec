"""PyTorch side of benchmarks/bench_cuda_train_step.cpp: one training step of the paper's U-Net on the GPU, batch
32 x 1 x 256 x 256, mixed soft Dice (alpha 0.2), Adam (lr 1e-3, weight decay 1e-6), the loss copied to the host
at the end of the step. Modes: fp32 (TF32 off), tf32 (cuDNN / matmul TF32), bf16 (torch.autocast bfloat16 with
channels_last model and input). One JSON line per mode: median GPU ms per step, peak CUDA memory.

usage: python3 gpu_train_step.py [--modes fp32,tf32,bf16] [--batch 32] [--seconds 3]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_common import autocast, emit, set_mode, time_ms  # noqa: E402
from ichseg_torch import UNet, soft_dice_loss  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--modes', default='fp32,tf32,bf16')
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--seconds', type=float, default=3.0)
    a = ap.parse_args()
    for mode in a.modes.split(','):
        set_mode(mode)
        torch.manual_seed(0)
        fmt = torch.channels_last if mode == 'bf16' else torch.contiguous_format
        net = UNet().cuda().to(memory_format=fmt)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-6)
        x = torch.rand(a.batch, 1, 256, 256, device='cuda').to(memory_format=fmt)
        t = (torch.rand(a.batch, 1, 256, 256, device='cuda') > 0.7).float()

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast(mode):
                p = net(x)
            loss = soft_dice_loss(p.float(), t, 1.0, 0.2)
            loss.backward()
            opt.step()
            return loss.item()

        torch.cuda.reset_peak_memory_stats()
        ms = time_ms(step, warmup=3, min_runs=10, min_seconds=a.seconds)
        emit(bench='unet_train_step', batch=a.batch, mode=mode, framework='pytorch', ms=ms,
             peak_MB=torch.cuda.max_memory_allocated() / 2 ** 20)
        del net, opt, x, t
        torch.cuda.empty_cache()


if __name__ == '__main__':
    main()
