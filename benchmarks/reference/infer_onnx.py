"""The CPU deployment peer of ichseg_predict's network stage: the paper U-Net (as ichseg_predict runs it: base width
32, depth 5, mid_channels_factor 2, sigmoid output, 256 x 256) exported from the PyTorch reference
(benchmarks/reference/ichseg_torch.py) to ONNX and run by ONNX Runtime's CPU provider on 40 slices in batches of 8,
the network alone (no pre- or post-processing), optionally also PyTorch FP32 and bf16 autocast on the same batches.

usage: python3 infer_onnx.py [--threads N] [--slices 40] [--batch 8] [--repeats 3] [--torch]
Prints one JSON line: seconds per 40 slices (median of the repeats) for each runtime, versions, threads.
Needs pip packages onnxruntime (and torch, onnx for the export); weights are random (the time does not depend on them).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ichseg_torch import UNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--slices', type=int, default=40)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--torch', action='store_true', help='also time PyTorch FP32 and bf16 autocast')
    a = ap.parse_args()
    import onnxruntime as ort
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = UNet(base_width=32, depth=5, mid_channels_factor=2, sigmoid=True).eval()
    x = torch.rand(a.slices, 1, 256, 256)
    path = os.path.join(tempfile.mkdtemp(), 'unet.onnx')
    torch.onnx.export(net, (x[:a.batch],), path, input_names=['x'], output_names=['y'],
                      dynamic_axes={'x': {0: 'n'}, 'y': {0: 'n'}}, dynamo=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])
    xs = x.numpy()

    def run_ort():
        for b in range(0, a.slices, a.batch):
            sess.run(['y'], {'x': xs[b:b + a.batch]})

    def run_torch(bf16):
        with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            for b in range(0, a.slices, a.batch):
                net(x[b:b + a.batch])

    def timed(fn):
        fn()  # warm-up
        ts = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    out = {'slices': a.slices, 'batch': a.batch, 'threads': a.threads, 'onnxruntime': ort.__version__,
           'torch': torch.__version__, 'ort_s': timed(run_ort)}
    if a.torch:
        out['torch_fp32_s'] = timed(lambda: run_torch(False))
        out['torch_bf16_s'] = timed(lambda: run_torch(True))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
