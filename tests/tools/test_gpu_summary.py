#!/usr/bin/env python3
"""CTest of tools/gpu_summary.py on fixtures/gpu_run: the output folder of a complete GPU verification run, its
benchmark JSON in Google Benchmark's exact format (make_gpu_summary_fixture.py says how it was made; the numbers
are invented). Each case copies the folder, changes what a real run could have produced, and checks the summary
script's exit code and text: a complete run is summarised with every number; a benchmark (or PyTorch
measurement) missing from a command that finished, or one that reported an error, fails with its name; a run cut
off mid-benchmark keeps what finished and says why the rest is absent; Catch2 failures are counted and listed."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = os.path.join(HERE, '..', '..', 'tools', 'gpu_summary.py')
FIXTURE = os.path.join(HERE, 'fixtures', 'gpu_run')


def bare_dash_cells(text):
    """Table cells that hold nothing but '-' (a silent 'no value')."""
    return [ln for ln in text.splitlines() if ln.startswith('|') and not ln.startswith('|---')
            and any(c.strip() in ('-', '') for c in ln.strip().strip('|').split('|'))]


class GpuSummary(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='gpu_summary_test_')
        self.out = os.path.join(self.tmp, 'out')
        shutil.copytree(FIXTURE, self.out)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_summary(self, *flags):
        p = subprocess.run([sys.executable, SUMMARY, self.out, '--final', *flags], capture_output=True, text=True)
        with open(os.path.join(self.out, 'summary.md')) as f:
            return p.returncode, f.read(), p.stderr

    def edit_bench(self, fn):
        """Apply fn to each Google Benchmark document of bench.json and write them back in order."""
        sys.path.insert(0, os.path.dirname(SUMMARY))
        import gpu_summary
        path = os.path.join(self.out, 'bench.json')
        with open(path) as f:
            docs, cut = gpu_summary.json_documents(f.read())
        self.assertFalse(cut)
        with open(path, 'w') as f:
            for d in docs:
                fn(d)
                f.write(json.dumps(d, indent=2) + '\n')

    def test_complete_run(self):
        rc, text, err = self.run_summary()
        self.assertEqual(rc, 0, err)
        self.assertIn('**Result: PASSED.**', text)
        for s in ('NVIDIA H100 80GB HBM3, 81559 MiB', '| driver | 580.159.04 |', '| CUDA version of the driver | 13.0 |',
                  'NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)', '| tests | test_cuda ~[large] | 17 | 17 | 0 | 0 | 0 | 38 |',
                  '| memcheck: test_cuda_checks [tiles],[views] | 0 | 0 | 12 |',
                  '| racecheck: test_cuda [conv2d] | 0 | 0 | 15 |'):
            self.assertIn(s, text)
        # the training step: the median aggregate of 3 repetitions (92.4 ms x 1.001), PyTorch, their ratio
        self.assertRegex(text, r'\| fp32 \| 92\.49 \| 71\.27 \| 63\.00 \| 1\.47x \| 9120 \| 7400 \|')
        self.assertRegex(text, r'\| bf16 \| 17\.92 \| none \(the cuDNN backend has no BF16\) \| 8\.70 \| 2\.06x \|')
        # every compact layer and role, with ichseg / cuDNN and ichseg / PyTorch ratios (fixture: 150/90, 300/140)
        self.assertEqual(len(re.findall(r'^\| (enc|dec|head)\S* \| (fprop|dgrad|wgrad) \| .* \| 1\.67 \| .* \| 2\.14 \|',
                                        text, re.M)), 45)
        # the losses document uses per-benchmark MinTime names ("/min_time:0.200/manual_time")
        self.assertRegex(text, r'\| loss/dice/32x256x256 \| 88\.2 \| 0\.49% \| 210 \|')
        self.assertEqual(bare_dash_cells(text), [])

    def test_missing_layer_benchmark_fails(self):
        gone = 'conv/dec1.conv1/wgrad/ichseg/bf16'
        self.edit_bench(lambda d: d.__setitem__('benchmarks', [b for b in d['benchmarks']
                                                               if not b['name'].startswith(gone + '/')]))
        rc, text, err = self.run_summary()
        self.assertEqual(rc, 1)
        self.assertIn(f'benchmark {gone} is missing from bench.json although bench_cuda_layers exited 0', err)
        self.assertIn('SUMMARY ERRORS', text)
        self.assertRegex(text, r'\| dec1\.conv1 \| wgrad \| .* \| MISSING \|')

    def test_missing_step_benchmark_fails(self):
        gone = 'unet_train_step/b32_256/ichseg/bf16/manual_time'
        self.edit_bench(lambda d: d.__setitem__('benchmarks', [b for b in d['benchmarks'] if b['run_name'] != gone]))
        rc, _, err = self.run_summary()
        self.assertEqual(rc, 1)
        self.assertIn('benchmark unet_train_step/b32_256/ichseg/bf16 is missing', err)

    def test_benchmark_error_fails(self):
        def fail_one(d):
            for b in d['benchmarks']:
                if b['name'] == 'conv/enc2.conv2/fprop/cudnn/tf32/manual_time':
                    b['error_occurred'] = True
                    b['error_message'] = 'cuDNN error in cudnnConvolutionForward: CUDNN_STATUS_EXECUTION_FAILED'
        self.edit_bench(fail_one)
        rc, text, err = self.run_summary()
        self.assertEqual(rc, 1)
        self.assertIn('conv/enc2.conv2/fprop/cudnn/tf32 reported an error: cuDNN error', err)
        self.assertIn('error: cuDNN error in cudnnConvolutionForward', text)

    def test_missing_pytorch_mode_fails(self):
        path = os.path.join(self.out, 'torch.jsonl')
        with open(path) as f:
            lines = [ln for ln in f if not ('"unet_train_step"' in ln and '"mode": "bf16"' in ln)]
        with open(path, 'w') as f:
            f.writelines(lines)
        rc, _, err = self.run_summary()
        self.assertEqual(rc, 1)
        self.assertIn('PyTorch bf16 is missing from torch.jsonl although gpu_train_step.py exited 0', err)

    def test_cut_off_run_keeps_what_finished(self):
        # The layer benchmark is killed at its time limit halfway through its document; the run then ended
        # during torch-layers. Nothing finished may be lost, and nothing absent may pass silently.
        path = os.path.join(self.out, 'bench.json')
        with open(path) as f:
            text = f.read()
        cut = text.index('"name": "conv/dec1.up(T)/fprop/ichseg/tf32/manual_time"')
        with open(path, 'w') as f:
            f.write(text[:cut + 20])
        rows = []
        with open(os.path.join(self.out, 'run.tsv')) as f:
            for ln in f:
                r = ln.rstrip('\n').split('\t')
                if r[0] == 'cmd' and r[2].startswith('bench_cuda_layers'):
                    r[3] = '124'
                if r[0] == 'step' and r[1] == 'bench-layers' and r[2] == 'passed':
                    r[2] = 'failed'
                if r[0] in ('cmd', 'step') and r[1] in ('torch-layers', 'rest') and not (r[0] == 'step' and r[2] == 'running' and r[1] == 'torch-layers'):
                    continue
                if r[0] == 'env' and r[1] == 'end_epoch':
                    continue
                rows.append(r)
        with open(os.path.join(self.out, 'run.tsv'), 'w') as f:
            f.writelines('\t'.join(r) + '\n' for r in rows)
        with open(os.path.join(self.out, 'torch.jsonl')) as f:
            kept = [ln for ln in f if '"bench": "conv"' not in ln and '"bench": "loss"' not in ln]
        with open(os.path.join(self.out, 'torch.jsonl'), 'w') as f:
            f.writelines(kept)
        rc, text, err = self.run_summary()
        self.assertEqual(rc, 0, err)  # nothing a finished command owed is missing
        self.assertIn('INCOMPLETE: the run ended during step torch-layers', text)
        self.assertIn('bench.json ends inside a Google Benchmark document', text)
        self.assertRegex(text, r'\| enc0\.conv2 \| fprop \| 19\.3 \| 215 \| 129 \| 1\.67 \| 138 \| '
                               r'not run \(the run ended in this step\) \|')
        self.assertRegex(text, r'\| dec1\.up\(T\) \| fprop \| 8\.6 \| killed at its time limit \|')
        self.assertRegex(text, r'\| 8 \| bench-layers \| 40 \| 425 \| failed \|')
        self.assertRegex(text, r'\| 9 \| torch-layers \| 35 \| 460 \| interrupted \|')
        self.assertRegex(text, r'\| 10 \| rest \| 0 \| 460 \| not reached \|')
        self.assertEqual(bare_dash_cells(text), [])

    def test_test_failures_are_counted_and_listed(self):
        path = os.path.join(self.out, 'verify.log')
        with open(path) as f:
            text = f.read()
        failing = '\n'.join([
            'ichseg [cuda] tests on NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)',
            '-' * 79,
            'conv2d on CUDA: several M-tiles with a partial last one, partial N- and K-tiles, split-K',
            '-' * 79,
            '/root/repo/tests/cuda/test_conv_tiles_cuda.cpp:41',
            '.' * 79, '',
            '/root/repo/tests/cuda/test_conv_tiles_cuda.cpp:58: FAILED:',
            '  REQUIRE( ichseg_d_.ratio <= (tol) )',
            'with expansion:', '  0.0312 <= 0.005', 'with messages:', '  K 80 (M-tiles 64 + 16), C 24, 13x13 at tf32', '',
            '0.812 s: conv2d on CUDA: several M-tiles with a partial last one, partial N- and K-tiles, split-K',
        ] + [f'0.1{i} s: case {i}' for i in range(5)] + [
            '=' * 79, 'test cases: 6 | 5 passed | 1 failed', 'assertions: 99 | 98 passed | 1 failed', ''])
        text = re.sub(r'(---- \[tests\] test_cuda_checks ~\[large\] \(timeout \d+s\)\n\$ [^\n]*\n)(.*?)(\n---- \[tests\])',
                      lambda m: m.group(1) + failing + m.group(3), text, flags=re.S)
        text = text.replace('---- [tests] test_cuda_checks ~[large]: exit code 0', '---- [tests] test_cuda_checks ~[large]: exit code 1')
        with open(path, 'w') as f:
            f.write(text)
        rc, summary, err = self.run_summary()
        self.assertEqual(rc, 0, err)  # a failing test is the run's failure, not a summary error
        self.assertIn('| tests | test_cuda_checks ~[large] | 6 | 5 | 1 | 0 |', summary)
        self.assertIn('**conv2d on CUDA: several M-tiles with a partial last one, partial N- and K-tiles, split-K**, '
                      'test_conv_tiles_cuda.cpp:58: `REQUIRE( ichseg_d_.ratio <= (tol) ) | with expansion: | '
                      '0.0312 <= 0.005 | with messages: | K 80 (M-tiles 64 + 16), C 24, 13x13 at tf32`', summary)

    def test_sanitizer_findings_are_counted_and_quoted(self):
        path = os.path.join(self.out, 'sanitizer.log')
        with open(path) as f:
            text = f.read()
        report = ('========= Invalid __global__ read of size 16 bytes\n'
                  '=========     at ichseg::cuda::kern::bn::apply_kernel(int, int, const float *, const float *, float *, bool)+0x90\n'
                  '=========     by thread (0,0,0) in block (0,0,0)\n')
        head = '---- [memcheck] memcheck: test_cuda_checks [tiles],[views] (timeout 15s)\n'
        i = text.index(head)
        j = text.index('========= ERROR SUMMARY: 0 errors', i)
        text = text[:j] + report + '========= ERROR SUMMARY: 2 errors' + text[j + len('========= ERROR SUMMARY: 0 errors'):]
        with open(path, 'w') as f:
            f.write(text)
        rc, summary, err = self.run_summary()
        self.assertEqual(rc, 0, err)
        self.assertIn('| memcheck: test_cuda_checks [tiles],[views] | 2 | 0 | 12 |', summary)
        self.assertIn('    ========= Invalid __global__ read of size 16 bytes', summary)

    def test_names_with_google_benchmark_suffixes(self):
        sys.path.insert(0, os.path.dirname(SUMMARY))
        import gpu_summary
        for name, want in (('conv/enc0.conv1/fprop/ichseg/tf32/manual_time', 'conv/enc0.conv1/fprop/ichseg/tf32'),
                           ('conv/enc0.conv1/fprop/ichseg/tf32/min_time:0.050/manual_time', 'conv/enc0.conv1/fprop/ichseg/tf32'),
                           ('unet_train_step/b32_256/ichseg/bf16/min_time:2.000/manual_time',
                            'unet_train_step/b32_256/ichseg/bf16'),
                           ('loss/dice/32x256x256/min_time:0.5s/repeats:3/manual_time', 'loss/dice/32x256x256')):
            self.assertEqual(gpu_summary.base_name({'name': name}), want)
        self.assertEqual(gpu_summary.base_name({'name': 'x/manual_time_median', 'aggregate_name': 'median',
                                                'run_type': 'aggregate'}), 'x')


if __name__ == '__main__':
    unittest.main(verbosity=2)
