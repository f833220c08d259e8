"""RAFT's memory-efficient lookup and bf16 path against the fp32 all-pairs path.

``python benchmarks/raft_efficiency.py [--repeats 3] [--bf16-repeats 1]
[--memory-size 1088 1920] [--checkpoint work_dirs/fp/qs1000/iter_1000.pth]
[--scales 4 2] [--compile]``; ``--repeats 0``, ``--memory-size 0 0`` and ``--scales``
(empty) skip the timing, the memory and the accuracy parts.

One model (the FlyingChairs recipe, seeded random weights) on one random
(1, 6, 368, 496) input, eval, no_grad, 12 iterations, CPU time with one
thread (``lcv_overhead.forward_seconds``), medians of interleaved repeats:

- all-pairs fp32 (the reference), memory-efficient fp32
  (``corr_op_cfg.memory_efficient=True``), all-pairs under bf16 autocast
  (mmengine's ``autocast``, as ``--amp`` and ``TestLoop(fp16=True)`` run it),
  and bf16 with channels_last weights and input.
- Upsampling: inference upsampling only the final flow (RAFT's test mode)
  against upsampling every iteration's (mmflow's decoder, and RAFT's
  training path run without gradients), the same model, alternating.
- With ``--compile``: ``torch.compile`` (inductor, default mode) of a copy of
  the fp32 all-pairs model, its first call (compilation) timed apart, then
  compiled and eager calls alternating ``--repeats`` times.
- Peak memory of one forward (1 iteration) at ``--memory-size``: the peak of
  the live bytes of PyTorch's CPU allocator (``lcv_overhead.peak_bytes``,
  tensor storage only), all-pairs vs memory-efficient, next to the analytic
  size of the all-pairs pyramid.
- Accuracy cost of bf16: EPE (valid pixels) of a trained checkpoint's flow on
  the real Middlebury pair (scikit-image's Motorcycle, 1/4 and 1/2 scale), fp32
  vs bf16, and the mean end-point difference between the two flows.
"""
import argparse
import copy
import glob
import os.path as osp
import statistics
import sys
import time

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner.amp import autocast

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from lcv_overhead import (CONFIGS, REPO, build, forward_seconds,  # noqa: E402
                          peak_bytes)

from mmext.engine import build_model  # noqa: E402
from mmext.flow.datasets import MiddleburyStereoFlow  # noqa: E402

CHECKPOINT = osp.join(REPO, 'work_dirs', 'fp', 'qs1000', 'iter_1000.pth')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=CONFIGS[0], help='RAFT config')
    parser.add_argument('--size', type=int, nargs=2, default=[368, 496])
    parser.add_argument('--iters', type=int, default=12)
    parser.add_argument(
        '--repeats', type=int, default=3, help='0 skips the timing')
    parser.add_argument(
        '--bf16-repeats',
        type=int,
        default=1,
        help='repeats of the bf16 runs (slow on CPUs without bf16 units)')
    parser.add_argument(
        '--memory-size',
        type=int,
        nargs=2,
        default=[1088, 1920],
        help='image size of the memory comparison (0 0 skips it)')
    parser.add_argument(
        '--checkpoint',
        default=CHECKPOINT,
        help='trained flow checkpoint for the bf16 accuracy cost; its '
        'config is the .py file beside it')
    parser.add_argument(
        '--scales',
        type=int,
        nargs='*',
        default=[4, 2],
        help='Middlebury downscaling factors (none skips the accuracy cost)')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='also time torch.compile (minutes of compilation on a CPU)')
    return parser.parse_args()


# (name, memory_efficient, bf16, channels_last) of the timed runs.
VARIANTS = [('all-pairs fp32', False, False, False),
            ('memory-efficient fp32', True, False, False),
            ('all-pairs fp32 channels_last', False, False, True),
            ('all-pairs bf16', False, True, False),
            ('all-pairs bf16 channels_last', False, True, True)]


def configure(model, memory_efficient: bool, channels_last: bool):
    model.decoder.corr_lookup.memory_efficient = memory_efficient
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return model.to(memory_format=fmt)


def time_variants(args, model, inputs) -> dict:
    times = {}
    for repeat in range(args.repeats):
        runs = VARIANTS if repeat % 2 == 0 else VARIANTS[::-1]
        for name, efficient, bf16, channels_last in runs:
            if bf16 and repeat >= args.bf16_repeats:
                continue
            configure(model, efficient, channels_last)
            x = inputs.contiguous(memory_format=torch.channels_last
                                  ) if channels_last else inputs
            with autocast(enabled=bf16):
                seconds, _ = forward_seconds(model, x, args.iters)
            times.setdefault(name, []).append(seconds)
            print(f'  {name}: {seconds:.2f} s CPU', flush=True)
    configure(model, False, False)
    return {name: statistics.median(runs) for name, runs in times.items()}


def upsampling_times(args, model, inputs) -> dict:
    """CPU seconds (medians) of inference upsampling every iteration's flow
    and only the final one."""
    model.decoder.iters = args.iters
    model.test_cfg = dict(model.test_cfg or {}, iters=args.iters)
    runs = [('every iteration upsampled', False),
            ('final flow upsampled', True)]
    times = {name: [] for name, _ in runs}
    for repeat in range(args.repeats):
        for name, test_mode in (runs if repeat % 2 == 0 else runs[::-1]):
            start = time.process_time()
            with torch.no_grad():
                model.estimate(inputs, test_mode)
            times[name].append(time.process_time() - start)
            print(f'  {name}: {times[name][-1]:.2f} s CPU', flush=True)
    return {name: statistics.median(runs) for name, runs in times.items()}


def compiled_times(args, model, inputs) -> dict:
    """Compilation seconds (wall) and the medians of alternating eager and
    compiled calls (CPU seconds)."""
    eager = copy.deepcopy(model)
    eager.test_cfg = dict(eager.test_cfg or {}, iters=args.iters)
    compiled = torch.compile(eager)
    start = time.perf_counter()
    with torch.no_grad():
        compiled(inputs, mode='tensor')
    times = {'compilation (wall s)': time.perf_counter() - start}
    runs = {'all-pairs fp32 eager': [], 'all-pairs fp32 torch.compile': []}
    modules = list(zip(runs, (eager, compiled)))
    for repeat in range(max(args.repeats, 1)):
        for name, module in (modules if repeat % 2 == 0 else modules[::-1]):
            start = time.process_time()
            with torch.no_grad():
                module(inputs, mode='tensor')
            runs[name].append(time.process_time() - start)
            print(f'  {name}: {runs[name][-1]:.2f} s CPU', flush=True)
    times.update(
        {name: statistics.median(seconds)
         for name, seconds in runs.items()})
    return times


def memory(model, size) -> dict:
    torch.manual_seed(1)
    inputs = torch.rand(1, 6, *size) * 2 - 1
    peaks = {}
    for name, efficient in (('memory-efficient', True), ('all-pairs', False)):
        configure(model, efficient, False)
        peaks[name] = peak_bytes(model, inputs, 1)
        print(f'  {name} {size[0]}x{size[1]}: {peaks[name] / 2**20:.0f} MiB',
              flush=True)
    configure(model, False, False)
    pixels = (size[0] // 8) * (size[1] // 8)
    levels = model.decoder.num_levels
    peaks['all-pairs pyramid (analytic)'] = sum(
        4 * pixels * (size[0] // 8 >> level) * (size[1] // 8 >> level)
        for level in range(levels))
    return peaks


def middlebury_epe(checkpoint: str, scales) -> list:
    """(scale, EPE fp32, EPE bf16, mean |fp32 - bf16| flow) per scale."""
    model = build_model(
        sorted(glob.glob(osp.join(osp.dirname(checkpoint), '*.py')))[0],
        checkpoint)
    rows = []
    for scale in scales:
        dataset = MiddleburyStereoFlow(
            downscale=scale, pipeline=[dict(type='PackFlowInputs')])
        _, _, gt, valid = dataset.make_pair({})
        flows = []
        for bf16 in (False, True):
            with torch.no_grad(), autocast(enabled=bf16):
                sample = model.test_step(pseudo_collate([dataset[0]]))[0]
            flows.append(sample.pred_flow_fw.data.float().numpy().transpose(
                1, 2, 0))
        epes = [
            float(np.linalg.norm(flow - gt, axis=-1)[valid == 1].mean())
            for flow in flows
        ]
        change = float(np.linalg.norm(flows[0] - flows[1], axis=-1).mean())
        rows.append((f'1/{scale} {gt.shape[0]}x{gt.shape[1]}', *epes, change))
        print(f'  {rows[-1]}', flush=True)
    return rows


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    model = build(args.config, 'cpu')
    torch.manual_seed(1)
    inputs = torch.rand(1, 6, *args.size) * 2 - 1
    print(f'RAFT {args.size[0]}x{args.size[1]}, {args.iters} iterations, '
          'one thread, CPU time, eval + no_grad, seeded random weights')
    forward_seconds(model, inputs, 1)  # warm-up
    times = time_variants(args, model, inputs) if args.repeats else {}
    upsampling = upsampling_times(args, model, inputs) if args.repeats \
        else {}
    compiled = compiled_times(args, model, inputs) if args.compile else {}
    peaks = memory(model, args.memory_size) if all(args.memory_size) else {}
    rows = middlebury_epe(args.checkpoint, args.scales) if args.scales and (
        osp.isfile(args.checkpoint)) else []

    if times:
        reference = times['all-pairs fp32']
        print('\n| variant | CPU s | ratio to all-pairs fp32 |')
        print('| --- | --- | --- |')
        for name, seconds in times.items():
            print(f'| {name} | {seconds:.2f} | {seconds / reference:.2f} |')
    if upsampling:
        every = upsampling['every iteration upsampled']
        final = upsampling['final flow upsampled']
        print(f'\nUpsampling: final flow only {final:.2f} s vs every '
              f'iteration {every:.2f} s CPU (ratio {final / every:.2f})')
    if compiled:
        eager = compiled['all-pairs fp32 eager']
        print(f'\ntorch.compile: compilation '
              f'{compiled["compilation (wall s)"]:.0f} s wall; then '
              f'{compiled["all-pairs fp32 torch.compile"]:.2f} s vs eager '
              f'{eager:.2f} s CPU (ratio '
              f'{compiled["all-pairs fp32 torch.compile"] / eager:.2f})')
    if peaks:
        h, w = args.memory_size
        print(f'\n| peak memory, {h}x{w}, 1 iteration | MiB | ratio |')
        print('| --- | --- | --- |')
        base = peaks['all-pairs']
        for name, nbytes in peaks.items():
            print(f'| {name} | {nbytes / 2**20:.0f} | {nbytes / base:.3f} |')
    if rows:
        print(f'\nbf16 accuracy cost, {osp.relpath(args.checkpoint, REPO)} '
              'on the Middlebury pair (EPE over valid pixels, px)')
        print('| scale | EPE fp32 | EPE bf16 | change | mean |fp32 - bf16| |')
        print('| --- | --- | --- | --- | --- |')
        for scale, fp32, bf16, diff in rows:
            print(f'| {scale} | {fp32:.3f} | {bf16:.3f} | {bf16 - fp32:+.3f} '
                  f'| {diff:.3f} |')


if __name__ == '__main__':
    main()
