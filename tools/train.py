"""Train a model from a config: ``python tools/train.py CONFIG [options]``."""
import argparse
import os

import torch
from mmengine.runner import find_latest_checkpoint

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.engine import (CheckpointFitHook, DictAction, build_runner,
                          cli_main, init_cpu_distributed, load_config,
                          set_work_dir)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a path, resume from '
        'the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual batch size')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs such as '
        'train_cfg.max_iters=100')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if args.amp and not torch.cuda.is_available():
        parser.error('--amp needs a CUDA device: mmengine\'s AmpOptimWrapper '
                     'has no CPU mode')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg, args):
    """Write the command-line choices into the config."""
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.work_dir, args.config)

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})
        cfg.auto_scale_lr.enable = True
    return cfg


def checkpoint_to_load(cfg):
    """The checkpoint the Runner will load: ``load_from``, or with
    ``resume`` and no ``load_from`` the latest one in the work dir."""
    if cfg.get('resume') and cfg.get('load_from') is None:
        return find_latest_checkpoint(cfg.work_dir)
    return cfg.get('load_from')


@cli_main
def main():
    args = parse_args()
    cfg = merge_args(load_config(args.config, args.cfg_options), args)
    init_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    checkpoint = checkpoint_to_load(cfg)
    if checkpoint is not None:
        runner.register_hook(
            CheckpointFitHook(checkpoint, resume=bool(cfg.get('resume'))))
    runner.train()


if __name__ == '__main__':
    main()
