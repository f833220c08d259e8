"""Cost of a meta-gradient SSL training step vs a supervised one.

``python benchmarks/meta_gradient_ssl.py [--base-channels 32] [--size 32]
[--batch 16] [--repeats 5]``

Three training steps (``train_step`` with SGD) of ConvLarge, the paper's SVHN
/ CIFAR network (``--base-channels 128`` is the paper's width):

- supervised: ``ImageClassifier`` on ``--batch`` labeled images, the
  supervised-only baseline's step;
- first-order: ``MetaGradientSSL`` on ``--batch`` labeled + ``--batch``
  unlabeled images with the reference's finite-difference meta-gradient;
- exact: the same with the second-order meta-gradient (``torch.func``).

Times: the cases run interleaved in one process (``--repeats`` rounds after
one warm-up round, median), so machine load affects them alike and the
ratios are comparable; wall-clock and process CPU time are both given (on a
shared machine the CPU time of a single-threaded run, ``OMP_NUM_THREADS=1``,
is the better figure). Peak memory: growth of the peak resident set size
(``ru_maxrss``) over the process's size right before its first two steps,
each case in a fresh process, so it counts activations, gradients, optimizer
state and allocator caches, not weights (a peak reached earlier, while
importing, would hide a smaller one: compare with care below ~50 MiB).

Not a test: numbers depend on the machine and its load.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmext  # noqa: F401  (compatibility layer, registers mmext)
from mmext.classification.semi import labeled_unlabeled_collate

CASES = ('supervised', 'first_order', 'exact')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--base-channels', type=int, default=32)
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--batch',
                        type=int,
                        default=16,
                        help='labeled (and unlabeled) images per step')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--memory-case', choices=CASES, help=argparse.SUPPRESS)
    return parser.parse_args()


def build(case, args):
    """The model, its optimizer wrapper and one batch for ``case``."""
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    network = dict(backbone=dict(type='ConvLarge',
                                 base_channels=args.base_channels),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead',
                             num_classes=10,
                             in_channels=args.base_channels))
    if case == 'supervised':
        model = MODELS.build(dict(type='ImageClassifier', **network))
    else:
        model = MODELS.build(
            dict(type='MetaGradientSSL', meta_gradient=case, **network))
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
    items = [
        dict(inputs=torch.randint(0,
                                  255, (3, args.size, args.size),
                                  dtype=torch.uint8),
             data_samples=DataSample().set_gt_label(i % 10),
             labeled=labeled) for labeled in (True, False)
        for i in range(args.batch)
    ]
    batch = labeled_unlabeled_collate(items)
    return model, optim, batch['labeled'] if case == 'supervised' else batch


def peak_memory(case, args):
    """Peak RSS growth (MiB) over the first two steps, in this process."""
    model, optim, batch = build(case, args)
    with open('/proc/self/statm') as f:
        before = int(f.read().split()[1]) * resource.getpagesize() / 2**20
    for _ in range(2):
        model.train_step(batch, optim)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB
    return peak - before


def main():
    args = parse_args()
    if args.memory_case:
        print(json.dumps(peak_memory(args.memory_case, args)))
        return
    built = {case: build(case, args) for case in CASES}
    wall = {case: [] for case in CASES}
    cpu = {case: [] for case in CASES}
    for round_ in range(args.repeats + 1):
        for case, (model, optim, batch) in built.items():
            tic, cpu_tic = time.perf_counter(), time.process_time()
            model.train_step(batch, optim)
            if round_:  # round 0 warms up
                wall[case].append(time.perf_counter() - tic)
                cpu[case].append(time.process_time() - cpu_tic)
    memory = {}
    for case in CASES:
        out = subprocess.run([
            sys.executable, __file__, '--memory-case', case, '--base-channels',
            str(args.base_channels), '--size',
            str(args.size), '--batch',
            str(args.batch)
        ],
                             capture_output=True,
                             text=True,
                             check=True).stdout
        memory[case] = json.loads(out.strip().splitlines()[-1])

    base_wall = statistics.median(wall['supervised'])
    base_cpu = statistics.median(cpu['supervised'])
    print(f'ConvLarge c={args.base_channels} at {args.size}x{args.size}, '
          f'{args.batch} labeled (+ {args.batch} unlabeled) images, torch '
          f'{torch.__version__}, {torch.get_num_threads()} thread(s); median '
          f'of {args.repeats} interleaved rounds after 1 warm-up')
    print('| step | wall (s) | CPU (s) | CPU / supervised | '
          'peak RSS growth (MiB) |')
    print('|---|---|---|---|---|')
    for case in CASES:
        w, c = statistics.median(wall[case]), statistics.median(cpu[case])
        print(f'| {case} | {w:.3f} | {c:.3f} | {c / base_cpu:.2f} '
              f'(wall {w / base_wall:.2f}) | {memory[case]:.0f} |')


if __name__ == '__main__':
    main()
