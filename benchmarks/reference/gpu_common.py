"""Shared helpers of the GPU reference benchmarks: precision modes and CUDA-event timing (median of runs)."""
import contextlib
import json
import statistics

import torch

MODES = ('fp32', 'tf32', 'bf16')


def set_mode(mode):
    """fp32: no TF32 anywhere; tf32: TF32 in cuDNN convolutions and matmuls; bf16: autocast (see autocast())."""
    torch.backends.cudnn.benchmark = True  # cudnnFind, as ichseg's cuDNN baseline
    allow = mode != 'fp32'
    torch.backends.cudnn.allow_tf32 = allow
    torch.backends.cuda.matmul.allow_tf32 = allow


def autocast(mode):
    if mode == 'bf16':
        return torch.autocast('cuda', dtype=torch.bfloat16)
    return contextlib.nullcontext()


def time_ms(fn, warmup=3, min_runs=10, min_seconds=1.0):
    """Median GPU milliseconds of fn() measured with CUDA events, after warm-up."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times, total = [], 0.0
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    while len(times) < min_runs or total < min_seconds * 1e3:
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        t = start.elapsed_time(stop)
        times.append(t)
        total += t
    return statistics.median(times)


def emit(**kv):
    kv['torch'] = torch.__version__
    kv['device'] = torch.cuda.get_device_name(0)
    print(json.dumps(kv), flush=True)
