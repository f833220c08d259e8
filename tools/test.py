"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``."""
import argparse
import os

from mmengine.evaluator import DumpResults

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.checkpoint import load_model_weights
from mmext.engine import (DictAction, UserError, build_runner,
                          check_not_swapped, cli_main, init_cpu_distributed,
                          load_config, set_work_dir)


def parse_args():
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out', help='dump the predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: autocast to bf16 on CPU, fp16 on CUDA '
        '(sets test_cfg.fp16, mmengine\'s TestLoop key)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


@cli_main
def main():
    args = parse_args()
    check_not_swapped(args.config, args.checkpoint)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise UserError(f'--out must be a .pkl file, got {args.out}')
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    set_work_dir(cfg, args.work_dir, args.config)
    # Weights are loaded below with an exact-fit check instead of load_from,
    # which would only warn about missing or unexpected keys.
    cfg.load_from = None
    cfg.resume = False

    init_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    load_model_weights(runner.model, args.checkpoint)
    if args.out:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
