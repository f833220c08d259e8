"""A trained mmext flow model next to OpenCV's classical flow on real motion.

``python benchmarks/flow_opencv_baselines.py [CONFIG CHECKPOINT]
[--downscales 1 2 4] [--test-iters N] [--threads T]``

Scores zero flow, OpenCV Farneback, OpenCV DIS (medium preset) and, given a
config and checkpoint (e.g. the quick start's
``work_dirs/flow_quickstart/iter_500.pth``), the model on the Middlebury
Motorcycle pair shipped with scikit-image at full size (500x741), 1/2 and
1/4, with the wall time of one call of each method. One run prints the
whole table of docs/flow_results.md. Times depend on the machine's load:
they are single calls side by side in one process, not a test.
"""
import argparse
import functools

import cv2
import torch

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.engine import UserError, cli_main
from mmext.flow.evaluation.opencv_peers import (OPENCV_PEERS,
                                                compare_on_middlebury,
                                                format_comparison, model_flow)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='model config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument(
        '--downscales', type=int, nargs='+', default=(1, 2, 4),
        help='Middlebury scales (1 = 500x741)')
    parser.add_argument(
        '--test-iters', type=int,
        help='refinement iterations of the model (default: its config)')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    if (args.config is None) != (args.checkpoint is None):
        raise UserError('give both CONFIG and CHECKPOINT, or neither')
    if min(args.downscales) < 1:
        raise UserError(f'--downscales must be positive, got '
                        f'{args.downscales}')
    return args


def load_model(config: str, checkpoint: str, test_iters=None):
    """The model of ``config`` with the weights of ``checkpoint``, in eval
    mode on the CPU."""
    from mmext.engine import build_model, load_config

    cfg = load_config(config)
    if test_iters is not None:
        cfg.model.test_cfg.iters = test_iters
    return build_model(cfg, checkpoint)


@cli_main
def main():
    args = parse_args()
    # The same number of threads for OpenCV and PyTorch: a fair race.
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    methods = dict(OPENCV_PEERS)
    if args.config:
        model = load_model(args.config, args.checkpoint, args.test_iters)
        methods['model'] = functools.partial(model_flow, model)
    table = compare_on_middlebury(methods, args.downscales)
    print(f'torch {torch.__version__}, OpenCV {cv2.__version__}, '
          f'{args.threads} thread(s) each; EPE over '
          f'the valid pixels, wall time of one call')
    print(format_comparison(table, with_seconds=True))


if __name__ == '__main__':
    main()
