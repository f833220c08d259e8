"""Leave-one-domain-out few-shot FAS on embedded procedural data.

    python tools/fas/procedural_experiment.py [--seeds 0 1 2] \
        [--work-dir work_dirs/adaptive_vit_fas_procedural]

1. Writes the procedural FAS domains (``mmext.classification.fas.
   procedural``: four simulated cameras, live faces, print and replay
   spoofs) unless present.
2. Per seed and held-out domain, from the committed configs in
   configs/adaptive_vit_fas/ (only data, seeds and paths are overridden):
   - 0-shot ViT: the tiny ViT and FAS head trained from scratch on the three
     other domains (this also stands in for the ImageNet-pretrained ViT,
     which cannot be downloaded here);
   - 5-shot ViT: every parameter fine-tuned further on the sources plus
     5 live + 5 spoof frames of the held-out domain (seeded random pick) as
     a fourth balanced domain;
   - 5-shot adaptive ViT: from the same 0-shot model, stage 1 (head only on
     the frozen ViT), then stage 2 (only ensemble adapters + FWT, with the
     cosine loss in the total loss), on the same data.
   Each is tested on the held-out domain's test split (video-level HTER at
   the test-set EER threshold, AUC, TPR@FPR=1%).
3. Prints mean +- std over seeds as Markdown and writes
   ``<work-dir>/results.json``.
"""
import argparse
import json
import os.path as osp
import time

import numpy as np
from mmengine.config import Config
from mmengine.runner import Runner

import mmext  # noqa: F401  (compatibility layer, registers mmext)
from mmext.classification.fas.procedural import CAMERAS, make_procedural_fas
from mmext.engine import cli_main

CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'adaptive_vit_fas')
SOURCE = 'vit-tiny-p8_1xb18-200it_procedural-fas-48px.py'
FINETUNE = 'vit-tiny-p8_ft_1xb24-60it_procedural-fas-48px-5shot.py'
HEAD = 'vit-tiny-p8_head_1xb24-20it_procedural-fas-48px-5shot.py'
ADAPTIVE = 'adaptive-vit-tiny-p8_1xb24-60it_procedural-fas-48px-5shot.py'
METHODS = ('0-shot ViT', '5-shot ViT', '5-shot adaptive ViT')
KEYS = ('HTER@test-eer', 'AUC', 'TPR@FPR=1%')


def run(config, work_dir, edit, test=False):
    """Train one committed config (edited by ``edit(cfg)``); return the path
    of its last checkpoint and, with ``test``, its test metrics."""
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    edit(cfg)
    cfg.work_dir = work_dir
    cfg.log_level = 'WARNING'
    # A fresh MessageHub/Visualizer per run: their instances are keyed by it.
    cfg.experiment_name = osp.relpath(work_dir).replace('/', '_')
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test() if test else None
    return osp.join(work_dir, f'iter_{cfg.train_cfg.max_iters}.pth'), metrics


def fas_data(data_root, sources, target, seed, load_from=None):
    """An edit that points a FAS config at the procedural domains."""

    def edit(cfg):
        cfg.randomness = dict(seed=seed)
        loader = cfg.train_dataloader
        loader.sampler.seed = seed
        dataset = loader.dataset
        if dataset.type == 'ConcatDataset':  # sources + target shots
            dataset.datasets[1].update(data_root=data_root,
                                       domains=[target],
                                       shot_seed=seed)
            dataset = dataset.datasets[0]
        dataset.update(data_root=data_root, domains=list(sources))
        cfg.test_dataloader.dataset.update(data_root=data_root,
                                           domains=[target])
        cfg.load_from = load_from

    return edit


def summarise(results):
    """``{method: {key: 'mean +- std'}}`` over every (seed, target)."""
    table = {}
    for method in METHODS:
        table[method] = {}
        for key in KEYS:
            # Mean over targets per seed, then mean +- std over seeds.
            per_seed = [
                np.mean([
                    r[key] for r in results
                    if r['method'] == method and r['seed'] == s
                ]) for s in sorted({r['seed']
                                    for r in results})
            ]
            table[method][key] = (float(np.mean(per_seed)),
                                  float(np.std(per_seed)))
    return table


def per_target(results, key='HTER@test-eer'):
    out = {}
    for r in results:
        out.setdefault(r['method'], {}).setdefault(r['target'],
                                                   []).append(r[key])
    return {
        m: {
            t: (float(np.mean(v)), float(np.std(v)))
            for t, v in targets.items()
        }
        for m, targets in out.items()
    }


def markdown(table, targets_table, targets):
    lines = [
        '| method | ' + ' | '.join(f'HTER {t}' for t in targets) +
        ' | mean HTER | mean AUC | mean TPR@FPR=1% |',
        '|---' * (len(targets) + 4) + '|'
    ]
    for method in METHODS:
        cells = [
            f'{targets_table[method][t][0]:.1f} +- '
            f'{targets_table[method][t][1]:.1f}' for t in targets
        ]
        cells += [
            f'{table[method][k][0]:.1f} +- {table[method][k][1]:.1f}'
            for k in KEYS
        ]
        lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir',
                        default='work_dirs/adaptive_vit_fas_procedural')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--targets',
                        nargs='+',
                        default=list(CAMERAS),
                        choices=list(CAMERAS))
    args = parser.parse_args()
    start = time.time()
    data_root = osp.join(args.work_dir, 'data')
    if not osp.isfile(osp.join(data_root, args.targets[-1], 'test.txt')):
        make_procedural_fas(data_root)
    results = []
    for seed in args.seeds:
        for target in args.targets:
            sources = [d for d in CAMERAS if d != target]
            out = osp.join(args.work_dir, f'seed{seed}', target)
            runs = {}
            source, runs['0-shot ViT'] = run(SOURCE,
                                             osp.join(out, 'vit_0shot'),
                                             fas_data(data_root, sources,
                                                      target, seed),
                                             test=True)
            _, runs['5-shot ViT'] = run(FINETUNE,
                                        osp.join(out, 'vit_5shot'),
                                        fas_data(data_root, sources, target,
                                                 seed, source),
                                        test=True)
            head, _ = run(HEAD, osp.join(out, 'head_5shot'),
                          fas_data(data_root, sources, target, seed, source))
            _, runs['5-shot adaptive ViT'] = run(
                ADAPTIVE,
                osp.join(out, 'adaptive_5shot'),
                fas_data(data_root, sources, target, seed, head),
                test=True)
            for method, metrics in runs.items():
                results.append(
                    dict(seed=seed,
                         target=target,
                         method=method,
                         **{k: metrics[f'fas/{k}']
                            for k in KEYS}))
            print(f'[{time.time() - start:.0f} s] seed {seed}, held out '
                  f'{target}: ' +
                  ', '.join(f"{m} HTER {r['HTER@test-eer']:.1f}"
                            for m, r in zip(runs, results[-3:])),
                  flush=True)
    table = summarise(results)
    targets_table = per_target(results)
    text = markdown(table, targets_table, args.targets)
    print(text)
    print(f'total {time.time() - start:.0f} s')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(runs=results,
                       summary=table,
                       seconds=time.time() - start),
                  f,
                  indent=1)


if __name__ == '__main__':
    cli_main(main)()
