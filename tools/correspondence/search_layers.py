"""Choose the hyperpixel layers of a trained model by beam search.

``python tools/correspondence/search_layers.py CONFIG CHECKPOINT
[--score cycle|pck] [--num-pairs N] [--beam-size B] [--max-layers L]
[--cfg-options k=v ...]``

The defaults are the reference's beam search: beam 4, sets of up to 8 layers.

Pairs come from the config's ``val_dataloader``. ``--score cycle`` (default,
the paper's label-free choice) ranks a layer set by the cycle loss of those
images under its hyperpixel features; ``--score pck`` by their PCK@0.1 with
the keypoint labels. Prints every set tried and the best, as a
``--cfg-options`` value for tools/test.py, and writes them to
``<work_dir>/layer_search.json``.
"""
import argparse
import json
import os
import os.path as osp

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.checkpoint import load_model_weights
from mmext.correspondence import HyperpixelMatcher
from mmext.correspondence.features import num_resnet_blocks
from mmext.correspondence.layer_search import beam_search, cycle_score
from mmext.engine import (DictAction, build_runner, cli_main, load_config,
                          set_work_dir)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--score', choices=('cycle', 'pck'), default='cycle')
    parser.add_argument('--num-pairs', type=int, default=64)
    parser.add_argument('--beam-size', type=int, default=4)
    parser.add_argument('--max-layers', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def validation_batches(runner, model, num_pairs):
    batches, count = [], 0
    for data in runner.val_dataloader:
        data = model.data_preprocessor(data, False)
        batches.append((data['inputs'], data['data_samples']))
        count += len(data['data_samples'])
        if count >= num_pairs:
            break
    return batches


def pck_score(runner, model, batches):
    def score(layer_ids):
        model.matcher = HyperpixelMatcher(layer_ids, model.matcher.method,
                                          model.matcher.temperature)
        evaluator = runner.val_evaluator
        for inputs, samples in batches:
            evaluator.process(model.predict(inputs, samples))
        metrics = evaluator.evaluate(sum(len(s) for _, s in batches))
        return next(v for k, v in metrics.items() if k.endswith('/0.1'))

    return score


@cli_main
def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    set_work_dir(cfg, args.work_dir, args.config)
    cfg.load_from = None
    runner = build_runner(cfg)
    model = runner.model
    load_model_weights(model, args.checkpoint)
    model.eval()
    batches = validation_batches(runner, model, args.num_pairs)
    if args.score == 'cycle':
        score = cycle_score(model, [inputs for inputs, _ in batches], args.seed)
    else:
        score = pck_score(runner, model, batches)

    layers = range(num_resnet_blocks(model.backbone) + 1)
    best, best_score, tried = beam_search(score, layers, args.beam_size,
                                          args.max_layers)
    for ids, value in tried:
        print(f'{list(ids)}\t{value:.4f}')
    print(f'best ({args.score}): model.matcher.layer_ids={list(best)} '
          f'score {best_score:.4f}')
    os.makedirs(cfg.work_dir, exist_ok=True)
    with open(osp.join(cfg.work_dir, 'layer_search.json'), 'w') as f:
        json.dump(dict(score=args.score, best=list(best), best_score=best_score,
                       tried=[[list(ids), value] for ids, value in tried]), f)


if __name__ == '__main__':
    main()
