"""RAFT speed and memory: inference with 12 and 32 iterations, a training step.

``python benchmarks/flow_raft.py [--config CONFIG] [--size H W] [--repeats N]
[--device cpu|cuda]``

Defaults: mmflow's RAFT (the Basic model of
configs/raft/raft_8xb2-100k_flyingchairs-368x496.py) at 368x496, one pair for
inference, the recipe's batch of 2 for training (forward, sequence loss,
backward, gradient clipping and AdamW step). Time is the median of
``--repeats`` runs after one warm-up run, as wall-clock time and as the CPU
time of the process (all threads; on a shared machine, CPU time of a
single-threaded run, ``OMP_NUM_THREADS=1``, is what an idle core would take).
Peak memory:

- CPU: the growth of the process's peak resident set size (``ru_maxrss`` of
  ``resource.getrusage``) over its size right before the warm-up run, each
  case in a fresh process, so it counts everything the runs allocate
  (activations, gradients, optimizer state, allocator caches), not the model
  weights or the inputs;
- CUDA: ``torch.cuda.max_memory_allocated`` (all tensors, weights included).

Not a test: numbers depend on the machine and its load.
"""
import argparse
import json
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'raft',
                          'raft_8xb2-100k_flyingchairs-368x496.py')
CASES = ('infer-12', 'infer-32', 'train')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--size', type=int, nargs=2, default=(368, 496))
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--train-batch', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--case', choices=CASES, help=argparse.SUPPRESS)
    return parser.parse_args()


def _rss_mib() -> float:
    """Current resident set size of this process (Linux), MiB."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB


def run_case(args) -> dict:
    """Time one case in this process; returns seconds per run and memory."""
    import mmext  # noqa: F401  (registers mmext)
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    from mmext.engine import load_config
    from mmext.flow import FlowDataSample
    from mmext.registry import MODELS

    cfg = load_config(args.config)
    init_default_scope(cfg.get('default_scope', 'mmext'))
    # SyncBN needs a process group; the Runner reverts it the same way.
    model = revert_sync_batchnorm(MODELS.build(cfg.model)).to(args.device)
    height, width = args.size
    generator = torch.Generator().manual_seed(0)

    def batch(size: int, with_gt: bool) -> dict:
        inputs = [
            torch.randint(0, 256, (6, height, width), generator=generator,
                          dtype=torch.uint8) for _ in range(size)
        ]
        samples = []
        for _ in range(size):
            sample = FlowDataSample()
            if with_gt:
                sample.gt_flow_fw = torch.randn(2, height, width,
                                                generator=generator) * 5
                sample.gt_valid_fw = torch.ones(1, height, width)
            samples.append(sample)
        return dict(inputs=inputs, data_samples=samples)

    if args.case == 'train':
        model.train()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        data = batch(args.train_batch, with_gt=True)

        def step():
            model.train_step(data, optim_wrapper)
    else:
        model.eval()
        model.test_cfg = dict(iters=int(args.case.split('-')[1]))
        data = batch(1, with_gt=False)

        def step():
            with torch.no_grad():
                model.test_step(data)

    cuda = args.device.startswith('cuda')
    rss_before = _rss_mib()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    step()  # warm-up: one-time allocations and kernel selection
    times, cpu_times = [], []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    memory = (torch.cuda.max_memory_allocated() / 2**20
              if cuda else _peak_rss_mib() - rss_before)
    return dict(
        seconds=statistics.median(times),
        cpu_seconds=statistics.median(cpu_times),
        memory_mib=memory)


def main():
    args = parse_args()
    if args.case:
        print(json.dumps(run_case(args)))
        return
    rows = []
    for case in CASES:
        command = [
            sys.executable, __file__, '--case', case, '--config', args.config,
            '--size', *map(str, args.size), '--repeats', str(args.repeats),
            '--train-batch', str(args.train_batch), '--device', args.device
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, check=False)
        if result.returncode:
            sys.exit(f'error: benchmark case {case} failed:\n'
                     f'{result.stderr[-2000:]}')
        rows.append((case, json.loads(result.stdout.strip().splitlines()[-1])))

    height, width = args.size
    memory_kind = ('peak allocated (CUDA)' if args.device.startswith('cuda')
                   else 'peak RSS growth (CPU)')
    print(f'RAFT benchmark: {osp.relpath(args.config, REPO)}, '
          f'{height}x{width}, device {args.device}, '
          f'torch {torch.__version__} with {torch.get_num_threads()} '
          f'threads; median of {args.repeats} runs after 1 warm-up')
    print(f'| case | wall time per run (s) | CPU time per run (s) '
          f'| {memory_kind} (MiB) |')
    print('|---|---|---|---|')
    names = {
        'infer-12': 'inference, 1 pair, 12 iterations',
        'infer-32': 'inference, 1 pair, 32 iterations',
        'train': f'training step, batch {args.train_batch}, 12 iterations',
    }
    for case, result in rows:
        print(f'| {names[case]} | {result["seconds"]:.2f} | '
              f'{result["cpu_seconds"]:.2f} | {result["memory_mib"]:.0f} |')


if __name__ == '__main__':
    main()
