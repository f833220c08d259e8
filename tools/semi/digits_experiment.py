"""Meta-gradient SSL vs supervised-only on scikit-learn's digits (embedded).

    python tools/semi/digits_experiment.py [--labels 5 10] [--seeds 0 1 2]
        [--jobs 2]

Trains, for every number of labels per class and seed, the supervised-only
baseline and meta-gradient SSL with its two ablations (no mix-up, no meta
step) from the digits configs in configs/meta_gradient_ssl/, under mmengine's
Runner exactly as tools/train.py would, and tests each on the 360 held-out
test digits. The seed picks both the labeled digits (the same ones for every
method) and the training randomness. Prints top-1 accuracy (mean +- sample
std over seeds) as a Markdown table and writes every run to
``<work-dir>/results.json``. ``--jobs`` runs that many trainings at once,
one thread each.
"""
import argparse
import json
import multiprocessing
import os
import os.path as osp
import time

import numpy as np
import torch
from mmengine import mkdir_or_exist

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.engine import DictAction, build_runner, cli_main, load_config

CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'meta_gradient_ssl')
SSL = osp.join(CONFIGS,
               'metassl_convlarge-c16_1xb16-400it_digits-16px-10labels.py')
SUPERVISED = osp.join(
    CONFIGS, 'supervised_convlarge-c16_1xb16-400it_digits-16px-10labels.py')
# name -> (config, model overrides)
VARIANTS = {
    'supervised only': (SUPERVISED, {}),
    'meta-gradient SSL': (SSL, {}),
    'SSL, no mix-up': (SSL, {
        'model.mixup': False
    }),
    'SSL, no meta step': (SSL, {
        'model.meta_step': False
    }),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--labels',
                        type=int,
                        nargs='+',
                        default=[5, 10],
                        help='labeled digits per class')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--variants',
                        nargs='+',
                        choices=list(VARIANTS),
                        default=list(VARIANTS))
    parser.add_argument('--jobs',
                        type=int,
                        default=1,
                        help='trainings run in parallel processes')
    parser.add_argument('--work-dir',
                        default='work_dirs/meta_gradient_ssl_digits')
    parser.add_argument('--cfg-options',
                        nargs='+',
                        action=DictAction,
                        help='extra overrides for every run, e.g. '
                        'train_cfg.max_iters=100')
    return parser.parse_args()


def train_and_test(config, options, work_dir, name):
    """Train one config under the Runner; return its test top-1 (%)."""
    cfg = load_config(config, options)
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    cfg.log_level = 'WARNING'
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    runner = build_runner(cfg)
    runner.train()
    return runner.test()['accuracy/top1']


def run_options(config, labels, seed):
    key = ('shots' if 'supervised' in osp.basename(config) else
           'num_labeled_per_class')
    return {
        f'train_dataloader.dataset.{key}': labels,
        'train_dataloader.dataset.seed': seed,
        'randomness.seed': seed,
    }


def markdown(results, labels, variants):
    lines = [
        '| method | ' + ' | '.join(f'{n} labels/class' for n in labels) + ' |',
        '|---' * (len(labels) + 1) + '|'
    ]
    for variant in variants:
        cells = []
        for n in labels:
            accs = [
                r['top1'] for r in results
                if r['variant'] == variant and r['labels'] == n
            ]
            std = np.std(accs, ddof=1) if len(accs) > 1 else 0.0
            cells.append(f'{np.mean(accs):.1f} +- {std:.1f}')
        lines.append(f'| {variant} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def run(job):
    """One training and test, in this or a worker process."""
    variant, n, seed, options, work_dir = job
    torch.set_num_threads(1)
    config, model_options = VARIANTS[variant]
    options = {**run_options(config, n, seed), **model_options, **options}
    name = f'{variant.replace(" ", "_").replace(",", "")}_{n}labels_seed{seed}'
    tic, cpu_tic = time.time(), time.process_time()
    top1 = train_and_test(config, options, osp.join(work_dir, name), name)
    print(
        f'{variant:20s} {n:3d} labels/class seed {seed}: top-1 '
        f'{top1:5.1f}%  ({time.time() - tic:.0f} s)',
        flush=True)
    return dict(variant=variant,
                labels=n,
                seed=seed,
                top1=top1,
                seconds=round(time.time() - tic, 1),
                cpu_seconds=round(time.process_time() - cpu_tic, 1))


def main():
    args = parse_args()
    mkdir_or_exist(args.work_dir)
    jobs = [(variant, n, seed, args.cfg_options or {}, args.work_dir)
            for n in args.labels for seed in args.seeds
            for variant in args.variants]
    start = time.time()
    if args.jobs > 1:
        os.environ.setdefault('OMP_NUM_THREADS', '1')
        with multiprocessing.get_context('spawn').Pool(args.jobs) as pool:
            results = pool.map(run, jobs, chunksize=1)
    else:
        results = [run(job) for job in jobs]
    table = markdown(results, args.labels, args.variants)
    cpu = sum(r['cpu_seconds'] for r in results)
    print(f'\nTest top-1 (%), 360 held-out digits, mean +- std over seeds '
          f'{args.seeds} ({time.time() - start:.0f} s wall, {cpu:.0f} s CPU '
          f'of the trainings):\n{table}')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(runs=results, table=table), f, indent=1)


if __name__ == '__main__':
    cli_main(main)()
