"""Overhead of LCV in RAFT: RAFT-LCV / RAFT forward time and peak memory.

``python benchmarks/lcv_overhead.py [--repeats 3] [--iters 12 32]``

Both models are built from their configs (by default the FlyingChairs recipe and
its LCV variant) with the same weights (RAFT-LCV loads RAFT's, so its cost volume
is the identity; the cost of LCV does not depend on the parameter values), and
run in eval mode under ``torch.no_grad`` on one random (1, 6, 368, 496) input,
as inference does. Target: both ratios <= 1.05.

- Time of ``model(inputs, mode='tensor')``: on CPU the process's CPU time
  (``time.process_time``) with ``--threads`` intra-op threads (default 1), so
  that other jobs on a shared machine, which stretch wall-clock time by
  whatever they take, do not enter the ratio (with one thread, CPU time is the
  work done; wall-clock is printed beside it). On CUDA, wall-clock between
  synchronisations. The two models alternate inside every repeat (and swap
  order between repeats), so drifts hit both alike; medians over the repeats
  are compared. A one-iteration warm-up forward per model precedes the timing.
- Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` minus the memory
  allocated before the forward. On CPU, ``torch.profiler`` with
  ``profile_memory=True`` records every allocation and free of PyTorch's CPU
  allocator during one forward; the peak of their running sum is the memory the
  forward needs beyond what existed before it (weights and input excluded).
  It counts tensor storage only, not the allocator's or the OS's overhead.

It also times the all-pairs volume alone, vanilla and LCV, and LCV's C x C solve,
to explain the time ratio.
"""
import argparse
import math
import os.path as osp
import statistics
import sys
import time

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch.profiler import ProfilerActivity, profile

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import mmext  # noqa: E402,F401  (registers mmext's models)
from mmext.flow.models import DotProductCostVolume  # noqa: E402
from mmext.registry import MODELS  # noqa: E402

CONFIGS = (osp.join(REPO, 'configs', 'raft',
                    'raft_8xb2-100k_flyingchairs-368x496.py'),
           osp.join(REPO, 'configs', 'lcv',
                    'raft-lcv_8xb2-100k_flyingchairs-368x496.py'))


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=CONFIGS[0], help='RAFT config')
    parser.add_argument(
        '--lcv-config', default=CONFIGS[1], help='RAFT-LCV config')
    parser.add_argument('--height', type=int, default=368)
    parser.add_argument('--width', type=int, default=496)
    parser.add_argument('--iters', type=int, nargs='+', default=[12, 32])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--threads', type=int, default=1, help='CPU intra-op threads')
    return parser.parse_args()


def build(config: str, device: str, state_dict=None) -> torch.nn.Module:
    """The config's model in eval mode, with ``state_dict`` where given."""
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmext'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if state_dict is not None:
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
        if unexpected or not all(
                k.endswith(('.raw_A', '.raw_D')) for k in missing):
            raise RuntimeError(f'weights do not fit {config}: missing '
                               f'{missing}, unexpected {unexpected}')
    return model.to(device).eval()


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def forward_seconds(model, inputs: torch.Tensor, iters: int) -> tuple:
    """Seconds of one inference forward with ``iters`` iterations: the
    compared time (CPU time on CPU, wall-clock on CUDA) and wall-clock."""
    model.test_cfg = dict(model.test_cfg or {}, iters=iters)
    device = str(inputs.device)
    synchronize(device)
    start, start_cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        model(inputs, mode='tensor')
    synchronize(device)
    wall = time.perf_counter() - start
    return (wall if inputs.is_cuda else time.process_time() - start_cpu), wall


def peak_bytes(model, inputs: torch.Tensor, iters: int) -> int:
    """Peak bytes allocated by one forward beyond those allocated before it."""
    model.test_cfg = dict(model.test_cfg or {}, iters=iters)
    if inputs.is_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        with torch.no_grad():
            model(inputs, mode='tensor')
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        with torch.no_grad():
            model(inputs, mode='tensor')
    events = sorted((e.start_ns(), e.nbytes())
                    for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]')
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


def cost_volume_seconds(model, inputs: torch.Tensor, repeats: int) -> tuple:
    """Median seconds of LCV's solve alone, and of the all-pairs volume of
    the vanilla and of the LCV cost volume, on the model's features."""
    cost_volume = model.decoder.cost_volume
    device = str(inputs.device)
    vanilla = DotProductCostVolume(cost_volume.channels)

    clock = time.perf_counter if inputs.is_cuda else time.process_time

    def seconds(fn, *fn_args) -> float:
        runs = []
        for _ in range(repeats):
            synchronize(device)
            start = clock()
            fn(*fn_args)
            synchronize(device)
            runs.append(clock() - start)
        return statistics.median(runs)

    with torch.no_grad():
        feat1, feat2, _, _ = model.extract_feat(inputs)
        return (seconds(cost_volume.transform_matrix),
                seconds(vanilla.all_pairs, feat1, feat2),
                seconds(cost_volume.all_pairs, feat1, feat2))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    raft = build(args.config, args.device)
    lcv = build(args.lcv_config, args.device, raft.state_dict())
    models = {'RAFT': raft, 'RAFT-LCV': lcv}
    torch.manual_seed(1)
    inputs = torch.rand(1, 6, args.height, args.width,
                        device=args.device) * 2 - 1
    clock = 'wall-clock' if args.device.startswith('cuda') else 'CPU time'
    print(f'device {args.device}, {torch.get_num_threads()} CPU threads, '
          f'input (1, 6, {args.height}, {args.width}), no_grad, eval, '
          f'{args.repeats} interleaved repeats; times are medians of {clock}')

    for model in models.values():
        forward_seconds(model, inputs, 1)
    times = {(name, n): [] for name in models for n in args.iters}
    walls = {key: [] for key in times}
    for repeat in range(args.repeats):
        order = list(models) if repeat % 2 == 0 else list(models)[::-1]
        for n in args.iters:
            for name in order:
                seconds, wall = forward_seconds(models[name], inputs, n)
                times[name, n].append(seconds)
                walls[name, n].append(wall)
    peaks = {(name, n): peak_bytes(model, inputs, n)
             for name, model in models.items() for n in args.iters}

    print('| iters | RAFT s | RAFT-LCV s | time ratio | RAFT peak MiB '
          '| RAFT-LCV peak MiB | memory ratio |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for n in args.iters:
        t_raft = statistics.median(times['RAFT', n])
        t_lcv = statistics.median(times['RAFT-LCV', n])
        m_raft, m_lcv = peaks['RAFT', n], peaks['RAFT-LCV', n]
        print(f'| {n} | {t_raft:.3f} | {t_lcv:.3f} | {t_lcv / t_raft:.3f} '
              f'| {m_raft / 2**20:.1f} | {m_lcv / 2**20:.1f} '
              f'| {m_lcv / m_raft:.3f} |')
    clock = 'wall-clock' if inputs.is_cuda else 'CPU'
    for name, n in times:
        runs = ', '.join(f'{t:.3f}' for t in times[name, n])
        wall = ', '.join(f'{t:.3f}' for t in walls[name, n])
        print(f'{name} iters={n}: {clock} s {runs}; wall-clock s {wall}')
    solve, vanilla, learnable = cost_volume_seconds(lcv, inputs, args.repeats)
    channels = lcv.decoder.cost_volume.channels
    feat_mib = 4 * channels * math.ceil(args.height / 8) * math.ceil(
        args.width / 8) / 2**20
    print(f'all-pairs volume alone: vanilla {vanilla * 1e3:.1f} ms, LCV '
          f'{learnable * 1e3:.1f} ms, of which the C x C solve (C={channels}, '
          f'float64) {solve * 1e3:.1f} ms; each transformed feature map '
          f'{feat_mib:.1f} MiB')


if __name__ == '__main__':
    main()
