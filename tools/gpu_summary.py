#!/usr/bin/env python3
"""Summary of a tools/gpu_verify.sh run: tests, sanitizers, ichseg vs cuDNN vs PyTorch timings, as Markdown
for docs/performance.md. usage: gpu_summary.py WORK_DIR OUT_DIR"""
import glob, json, os, re, statistics, sys
work, out = sys.argv[1], sys.argv[2]
L = []
L.append('## GPU results (tools/gpu_verify.sh)\n')
L.append('```\n' + open(os.path.join(work, 'env.txt')).read().strip() + '\n```\n')
tl = os.path.join(out, 'tests.log')
if os.path.exists(tl):
    L.append('### [cuda] tests\n')
    for line in open(tl):
        if re.search(r'^(----|exit code|All tests passed|test cases:|assertions:|SKIPPED)', line):
            L.append('    ' + line.rstrip())
    L.append('')
sl = os.path.join(out, 'sanitizer.log')
if os.path.exists(sl):
    L.append('### compute-sanitizer (small shapes, ~[large])\n')
    for line in open(sl):
        if re.search(r'(^==|ERROR SUMMARY|exit code|RACECHECK SUMMARY|not found)', line):
            L.append('    ' + line.rstrip())
    L.append('')
def fmt(v, spec):
    return format(v, spec) if v else '-'
def gb(name):
    p = os.path.join(work, name)
    try:
        return {b['name']: b for b in json.load(open(p))['benchmarks']}
    except Exception:
        return {}
torch = [json.loads(l) for l in open(os.path.join(work, 'torch.jsonl'))] if os.path.exists(os.path.join(work, 'torch.jsonl')) else []
def unit_ms(b):
    t = b.get('real_time', 0); u = b.get('time_unit', 'ns')
    return t * {'ns': 1e-6, 'us': 1e-3, 'ms': 1.0, 's': 1e3}[u]
step = gb('bench_train_step.json')
pt_step = {t['mode']: t for t in torch if t.get('bench') == 'unet_train_step'}
if step or pt_step:
    L.append('### U-Net training step, batch 32, 256x256 (GPU ms per step; target: faster than PyTorch, <= 8 ms BF16 on H100)\n')
    L.append('| precision | ichseg | ichseg, cuDNN convs | PyTorch eager | ichseg / PyTorch | ichseg pool peak MB | PyTorch peak MB |')
    L.append('|---|---|---|---|---|---|---|')
    for m in ('fp32', 'tf32', 'bf16'):
        i = step.get(f'unet_train_step/b32_256/ichseg/{m}'); c = step.get(f'unet_train_step/b32_256/cudnn-conv/{m}')
        p = pt_step.get(m)
        im = unit_ms(i) if i else None; pm = p['ms'] if p else None
        L.append(f"| {m} | {im and f'{im:.2f}' or '-'} | {c and f'{unit_ms(c):.2f}' or '-'} | {pm and f'{pm:.2f}' or '-'} | "
                 f"{(im and pm) and f'{im/pm:.2f}x' or '-'} | {fmt(i and i.get('pool_peak_MB'), '.0f')} | {fmt(p and p['peak_MB'], '.0f')} |")
    L.append('')
losses = gb('bench_losses.json')
if losses:
    ref = step.get('unet_train_step/b32_256/ichseg/bf16') or step.get('unet_train_step/b32_256/ichseg/tf32')
    pt_l = {t['name']: t for t in torch if t.get('bench') == 'loss'}
    L.append('### Losses, value + gradient (target < 1% of a training step)\n')
    L.append('| loss | ichseg us | % of ichseg step | PyTorch us |')
    L.append('|---|---|---|---|')
    for name, b in losses.items():
        ms = unit_ms(b); short = name.replace('loss/', '')
        pct = f'{100 * ms / unit_ms(ref):.2f}%' if ref else '-'
        p = pt_l.get(short)
        L.append(f"| {short} | {ms*1e3:.1f} | {pct} | {fmt(p and p['ms'] * 1e3, '.1f')} |")
    L.append('')
layers = gb('bench_layers.json')
if layers:
    pt = {(t['layer'], t['role'], t['mode']): t['ms'] for t in torch if t.get('bench') == 'conv'}
    L.append('### Per-layer convolution, batch 32 (GPU us; ratio = ichseg / cuDNN; targets <= 1.0 fprop/dgrad, <= 1.2 wgrad)\n')
    L.append('| layer | role | prec | ichseg | cuDNN | ratio | PyTorch |')
    L.append('|---|---|---|---|---|---|---|')
    ratios = {}
    for name, b in layers.items():
        _, layer, role, backend, prec = name.split('/')
        if backend != 'ichseg':
            continue
        c = layers.get(f'conv/{layer}/{role}/cudnn/{prec}')
        im = unit_ms(b); cm = unit_ms(c) if c else None
        r = im / cm if cm else None
        if r: ratios.setdefault((role, prec), []).append(r)
        pm = pt.get((layer, role, prec))
        L.append(f"| {layer} | {role} | {prec} | {im*1e3:.0f} | {cm and f'{cm*1e3:.0f}' or '-'} | {r and f'{r:.2f}' or '-'} | {pm and f'{pm*1e3:.0f}' or '-'} |")
    L.append('\nGeometric-mean ratio ichseg / cuDNN per role and precision: ' + ', '.join(
        f"{k[0]} {k[1]} {statistics.geometric_mean(v):.2f}" for k, v in sorted(ratios.items())) + '\n')
open(os.path.join(out, 'summary.md'), 'w').write('\n'.join(L) + '\n')
print('\n'.join(L))
