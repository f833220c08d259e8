"""Privacy of one trained checkpoint, as the threat model demands:

    python tools/privacy/evaluate_attacker.py CONFIG CHECKPOINT \
        [--iters N] [--seed S] [--work-dir DIR] [--cfg-options ...]

Loads the checkpoint into the config's ``AdversarialPrivacyClassifier``,
freezes the encoder, trains a fresh attacker decoder (``test_cfg.attacker``)
from scratch on the public data (``test_cfg.public_dataloader``), and prints
the task metric next to the attacker's PSNR, SSIM and (with
``test_cfg.perceptual``) perceptual distance on the test images; also writes
them to ``DIR/privacy_metrics.json``. The training adversary's weights in the
checkpoint are never used.
"""
import argparse
import json
import os.path as osp

from mmengine import mkdir_or_exist

import mmext  # noqa: F401  (compatibility layer, registers mmext)
from mmext.checkpoint import load_model_weights
from mmext.engine import (DictAction, build_runner, check_not_swapped,
                          cli_main, load_config, set_work_dir)
from mmext.errors import BadValueError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train a fresh attacker against the frozen encoder of a '
        'checkpoint and report its reconstruction quality with the task '
        'metric.')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--iters',
                        type=int,
                        help='attacker training steps (test_cfg.iters)')
    parser.add_argument('--seed',
                        type=int,
                        help="attacker initialisation seed (test_cfg.seed)")
    parser.add_argument('--work-dir')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args(argv)


@cli_main
def main(argv=None):
    args = parse_args(argv)
    check_not_swapped(args.config, args.checkpoint)
    cfg = load_config(args.config, args.cfg_options)
    if cfg.get('test_cfg', {}).get('type') != 'AttackerTestLoop':
        raise BadValueError(
            f'{args.config}: test_cfg.type must be AttackerTestLoop (the '
            'post-hoc attacker evaluation)')
    for key in ('iters', 'seed'):
        if getattr(args, key) is not None:
            cfg.test_cfg[key] = getattr(args, key)
    set_work_dir(cfg, args.work_dir, args.config)
    cfg.load_from, cfg.resume = None, False
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint not found: {args.checkpoint}')
    runner = build_runner(cfg)
    load_model_weights(runner.model, args.checkpoint)
    metrics = {k: float(v) for k, v in runner.test().items()}
    mkdir_or_exist(cfg.work_dir)
    out = osp.join(cfg.work_dir, 'privacy_metrics.json')
    with open(out, 'w') as f:
        json.dump(dict(checkpoint=args.checkpoint, **metrics), f, indent=2)
    print('\n'.join(f'{name}: {value:.4f}' for name, value in metrics.items()))
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
