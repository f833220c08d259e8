"""The optical-flow quick start: train a small RAFT on the CPU, then compare it
with zero flow on synthetic and real data.

``python tools/flow_quickstart.py [--work-dir DIR] [--iters N] [--seed S]
[--threads T]``

1. Trains RAFT-S from scratch on the embedded FlyingPhotos data (layers
   textured with the photos shipped in scikit-image / scikit-learn, moving up
   to 64 px) through mmengine's Runner with
   ``configs/raft/raft-small_1xb4-600it_flyingphotos-128x160.py``
   (``tools/train.py`` on that config trains the same model), logging the loss
   and the ETA as it goes, and saves the checkpoint in the work dir.
2. Evaluates it on FlyingPhotos' validation split and on the real Middlebury
   stereo pair from scikit-image (flow = -disparity, 4x downscaled), writing
   colour-wheel pictures of the first predictions under
   ``<work_dir>/<timestamp>/vis/``.
3. Prints how the training loss fell (the mean of the first and of the last
   quarter of the iterations) and EPE and Fl of the model next to those of
   zero flow on both sets; then, on the Middlebury pair at full size, 1/2
   and 1/4, the model next to zero flow, OpenCV Farneback and OpenCV DIS
   (medium preset) in one table (OpenCV is called here, never by the model).

Runs are deterministic for a given ``--seed`` and ``--threads``; nothing is
downloaded.
"""
import argparse
import functools
import os.path as osp
import time

import numpy as np
import torch

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.engine import build_runner, cli_main, load_config
from mmext.flow.evaluation.opencv_peers import (OPENCV_PEERS,
                                                compare_on_middlebury,
                                                format_comparison, model_flow)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'raft',
                  'raft-small_1xb4-600it_flyingphotos-128x160.py')
SETS = (('val', 'FlyingPhotos val (32 pairs)'),
        ('test', 'Middlebury stereo pair, 1/4'))


def parse_args():
    parser = argparse.ArgumentParser(
        description='Train a small RAFT on the CPU and compare it with zero '
        'flow')
    parser.add_argument(
        '--work-dir',
        default=osp.join('work_dirs', 'flow_quickstart'),
        help='where logs, the checkpoint and pictures go')
    parser.add_argument(
        '--iters',
        type=int,
        help='training iterations (default: the config\'s 600, about 10 '
        'minutes with 2 threads on 2 idle cores; more train longer)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='CPU threads of PyTorch (default 2; use 1 on a busy machine, '
        'where more threads than free cores slow every step down)')
    args = parser.parse_args()
    if args.iters is not None and args.iters < 1:
        parser.error('--iters must be positive')
    if args.threads < 1:
        parser.error('--threads must be positive')
    return args


def make_config(args):
    """The quick-start config with the command line's choices."""
    cfg = load_config(CONFIG)
    cfg.work_dir = args.work_dir
    cfg.randomness = dict(seed=args.seed)
    if args.iters is not None:
        cfg.train_cfg.max_iters = args.iters
        # The one-cycle schedule keeps RAFT's 100 spare steps.
        cfg.param_scheduler.total_steps = args.iters + 100
        cfg.default_hooks.checkpoint.interval = args.iters
        cfg.default_hooks.logger.interval = min(
            cfg.default_hooks.logger.interval, args.iters)
        cfg.train_cfg.val_interval = args.iters
    return cfg


def zero_flow_metrics(runner, split: str) -> dict:
    """The metrics of predicting zero flow on ``split``'s data."""
    loop = runner.val_loop if split == 'val' else runner.test_loop
    evaluator = runner.build_evaluator(runner.cfg[f'{split}_evaluator'])
    for data_batch in loop.dataloader:
        samples = data_batch['data_samples']
        for sample in samples:
            sample.pred_flow_fw = torch.zeros_like(sample.gt_flow_fw.data)
        evaluator.process(samples, data_batch)
    return evaluator.evaluate(len(loop.dataloader.dataset))


def loss_trend(runner) -> tuple:
    """Mean training loss of the first and of the last quarter of the
    iterations (at least one each), from the message hub's full history."""
    losses = np.asarray(runner.message_hub.get_scalar('train/loss').data[0])
    quarter = max(1, len(losses) // 4)
    return losses[:quarter].mean(), losses[-quarter:].mean(), quarter


def format_table(rows) -> str:
    """Markdown table of (set, zero metrics, model metrics) rows."""
    lines = [
        '| data | EPE zero flow (px) | EPE RAFT-S (px) | Fl zero flow (%) '
        '| Fl RAFT-S (%) |', '|---|---|---|---|---|'
    ]
    for name, zero, model in rows:
        lines.append(f'| {name} | {zero["EPE"]:.2f} | {model["EPE"]:.2f} | '
                     f'{zero["Fl"]:.1f} | {model["Fl"]:.1f} |')
    return '\n'.join(lines)


@cli_main
def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    cfg = make_config(args)
    runner = build_runner(cfg)
    start = time.perf_counter()
    # Training ends with a validation (the config's val_interval).
    runner.train()
    train_seconds = time.perf_counter() - start
    results = dict(
        val={
            key: runner.message_hub.get_scalar(f'val/{key}').current()
            for key in ('EPE', 'Fl')
        },
        test=runner.test())
    rows = [(name, zero_flow_metrics(runner, split), results[split])
            for split, name in SETS]
    methods = dict(OPENCV_PEERS)
    methods['RAFT-S'] = functools.partial(model_flow, runner.model.eval())
    real_motion = compare_on_middlebury(methods)
    checkpoint = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    print(f'\nRAFT-S, {cfg.train_cfg.max_iters} iterations, seed {args.seed}: '
          f'trained and validated in {train_seconds / 60:.1f} min, tested '
          f'with the baselines in '
          f'{time.perf_counter() - start - train_seconds:.0f} s')
    first, last, quarter = loss_trend(runner)
    print(f'training loss: {first:.3f} (mean of the first {quarter} '
          f'iterations) -> {last:.3f} (mean of the last {quarter})')
    print(format_table(rows))
    print('\nReal motion, Middlebury pair (EPE over its valid pixels):')
    print(format_comparison(real_motion))
    print(f'\ncheckpoint: {checkpoint}\npictures:   '
          f'{osp.join(runner.log_dir, "vis")}')


if __name__ == '__main__':
    main()
