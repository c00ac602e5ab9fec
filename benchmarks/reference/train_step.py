"""PyTorch side of benchmarks/bench_train_step.cpp: one U-Net training step (forward, soft Dice, backward,
Adam with weight decay 1e-6) on the CPU, same workloads and sizes.

usage: python3 train_step.py {paper|small} [--threads N] [--seconds S] [--precision fp32|bf16]
--precision bf16 runs the forward pass under torch.autocast("cpu", dtype=torch.bfloat16) (convolutions in BF16 via
oneDNN, which uses AMX tiles or AVX512_BF16 where the CPU has them; batch norm in FP32) and the loss on the float32
output, as a mixed-precision training script does; the backward pass follows the recorded dtypes.
Prints one JSON line: workload, torch version, threads, precision, ms per step (median of timed runs), peak RSS
delta, and oneDNN's CPU ISA (torch.backends.cpu.get_cpu_capability()).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ichseg_torch import UNet, soft_dice_loss  # noqa: E402

WORKLOADS = {'paper': (32, 2, 256, 1), 'small': (8, 8, 64, 1)}


def rss_now_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('workload', choices=WORKLOADS)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--seconds', type=float, default=10.0)
    ap.add_argument('--precision', choices=('fp32', 'bf16'), default='fp32')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    base, batch, size, factor = WORKLOADS[a.workload]
    rss0 = rss_now_mb()
    torch.manual_seed(0)
    net = UNet(base_width=base, mid_channels_factor=factor)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-6)
    x = torch.rand(batch, 1, size, size)
    t = (torch.rand(batch, 1, size, size) > 0.7).float()

    bf16 = a.precision == 'bf16'

    def step():
        opt.zero_grad()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            y = net(x)
        loss = soft_dice_loss(y.float(), t)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < a.seconds or len(times) < 3:
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'workload': a.workload, 'framework': 'pytorch ' + torch.__version__, 'threads': a.threads,
                      'precision': a.precision, 'cpu_capability': torch.backends.cpu.get_cpu_capability(),
                      'ms_per_step_median': statistics.median(times), 'ms_per_step_mean': statistics.mean(times),
                      'steps': len(times), 'peak_rss_delta_MB': peak - rss0}))


if __name__ == '__main__':
    main()
