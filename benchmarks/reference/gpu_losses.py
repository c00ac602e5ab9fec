"""PyTorch side of benchmarks/bench_cuda_losses.cpp: NT-Xent on z = (2 x 60, 128) and mixed soft Dice on
32 x 1 x 256 x 256, forward + backward (value and gradient), loss copied to the host. Median GPU ms per call.

usage: python3 gpu_losses.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_common import emit, set_mode, time_ms  # noqa: E402
from ichseg_torch import nt_xent_loss, soft_dice_loss  # noqa: E402


def main():
    set_mode('fp32')
    z = torch.randn(120, 128, device='cuda', requires_grad=True)
    p = torch.rand(32, 1, 256, 256, device='cuda', requires_grad=True)
    t = (torch.rand(32, 1, 256, 256, device='cuda') > 0.9).float()

    def ntx():
        z.grad = None
        loss = nt_xent_loss(z, 0.1)
        loss.backward()
        return loss.item()

    def dice():
        p.grad = None
        loss = soft_dice_loss(p, t, 1.0, 0.2)
        loss.backward()
        return loss.item()

    emit(bench='loss', name='nt_xent/60x2x128', framework='pytorch', ms=time_ms(ntx))
    emit(bench='loss', name='dice/32x256x256', framework='pytorch', ms=time_ms(dice))


if __name__ == '__main__':
    main()
