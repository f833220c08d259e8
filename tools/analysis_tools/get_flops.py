"""Parameters and FLOPs of any config's model (mmengine's complexity analysis):
``python tools/analysis_tools/get_flops.py CONFIG [--shape H [W]]``.

The input size defaults to the one in the config's name (``-368x496``,
``-32px``), else its pipeline's crop, else 224. FLOPs count one multiply-add
as one, per image (per image pair for flow), as the OpenMMLab zoos report;
they are also given for each child module of the analysed part.
"""
import argparse

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.engine import DictAction, UserError, cli_main, load_config
from mmext.engine.complexity import model_complexity


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Count parameters and FLOPs')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input size: H W, or one side for a square input')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.shape is not None and (len(args.shape) not in (1, 2)
                                   or min(args.shape) <= 0):
        raise UserError(f'--shape takes H W or one positive side, got '
                        f'{" ".join(map(str, args.shape))}')
    shape = None if args.shape is None else (args.shape * 2)[:2]
    cfg = load_config(args.config, args.cfg_options)
    result = model_complexity(cfg, args.config, shape=shape)
    channels, height, width = result.input_shape
    print(f'config: {args.config}\n'
          f'input shape: {channels}x{height}x{width}\n'
          f'analysed: {result.part}\n'
          f'params: {result.params / 1e6:.3f} M (analysed part '
          f'{result.part_params / 1e6:.3f} M)\n'
          f'flops: {result.flops:,} ({result.flops / 1e9:.3f} G)')
    for name, flops in result.flops_by_module.items():
        print(f'  {name}: {flops / 1e9:.3f} G '
              f'({100 * flops / result.flops:.1f}%)')
    return result


if __name__ == '__main__':
    cli_main(main)()
