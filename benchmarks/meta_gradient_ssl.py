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
is the better figure). Peak memory: the peak of tensor bytes allocated by
one training step (after the timed rounds) above what was live when it
started (weights, optimizer state, the batch), from the allocation and free
events of ``torch.profiler`` (``profile_memory=True``; the event tree that
``export_memory_timeline`` also reads). It counts activations, gradients
and temporaries of torch's CPU allocator, exactly and independent of the
machine's load; not the allocator's caching or the Python heap. (The
process's peak RSS is no measure of it: its growth is dominated by one-time
library initialisation and glibc's heap policy.)

Not a test: numbers depend on the machine and its load.
"""
import argparse
import statistics
import time

import torch
from torch._C._profiler import _EventType
from torch.profiler import ProfilerActivity, profile
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


def peak_step_memory(model, optim, batch):
    """Peak tensor memory (MiB) of one ``train_step`` above its start."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p:
        model.train_step(batch, optim)
    events, stack = [], list(
        p.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            events.append((node.start_time_ns, node.extra_fields.alloc_size))
        stack.extend(node.children)
    live = peak = 0
    for _, size in sorted(events):
        live += size
        peak = max(peak, live)
    return peak / 2**20


def main():
    args = parse_args()
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
    memory = {case: peak_step_memory(*built[case]) for case in CASES}

    base_wall = statistics.median(wall['supervised'])
    base_cpu = statistics.median(cpu['supervised'])
    print(f'ConvLarge c={args.base_channels} at {args.size}x{args.size}, '
          f'{args.batch} labeled (+ {args.batch} unlabeled) images, torch '
          f'{torch.__version__}, {torch.get_num_threads()} thread(s); median '
          f'of {args.repeats} interleaved rounds after 1 warm-up')
    print('| step | wall (s) | CPU (s) | CPU / supervised | '
          'peak step tensor memory (MiB) |')
    print('|---|---|---|---|---|')
    for case in CASES:
        w, c = statistics.median(wall[case]), statistics.median(cpu[case])
        print(f'| {case} | {w:.3f} | {c:.3f} | {c / base_cpu:.2f} '
              f'(wall {w / base_wall:.2f}) | {memory[case]:.1f} |')


if __name__ == '__main__':
    main()
