"""Export a FlowNAS subnet as a standalone RAFT (config + checkpoint):

``python tools/flownas/export.py CONFIG CHECKPOINT SUBNET --base-config BASE
--out PREFIX``

CONFIG is the supernet's (or a search's) config and CHECKPOINT the trained
supernet. SUBNET is the ``best_subnet.json`` a search writes, or an mmrazor
fix-subnet file (``stage3.width: {chosen: 96}``, ...). The subnet's weights
are sliced from the supernet; the tool checks that the standalone model gives
the supernet's flow on a random pair, then writes ``PREFIX.py`` (inheriting
BASE, e.g. a fine-tuning recipe) and ``PREFIX.pth`` for tools/test.py and
tools/train.py.
"""
import argparse
import re

import torch
from mmengine.fileio import load

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.engine import UserError, build_model, cli_main, load_config
from mmext.razor.flownas import (CHOICE_ALIASES, export_subnet,
                                 write_static_raft)
from mmext.registry import MODELS

_ALIAS = re.compile(r'stage(\d+)\.(\w+)$')
_KEYS = {name: key for key, name in CHOICE_ALIASES.items()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a FlowNAS subnet as a standalone RAFT')
    parser.add_argument('config', help='supernet or search config')
    parser.add_argument('checkpoint', help='trained supernet checkpoint')
    parser.add_argument(
        'subnet', help='best_subnet.json of a search, or a fix-subnet file')
    parser.add_argument(
        '--base-config',
        required=True,
        help='config the exported one inherits (data, schedule, runtime)')
    parser.add_argument(
        '--out', required=True, help='output path without extension')
    parser.add_argument(
        '--check-shape',
        type=int,
        nargs=2,
        default=(96, 128),
        metavar=('H', 'W'),
        help='size of the random pair that checks the export')
    return parser.parse_args(argv)


def read_arch(path):
    """The architecture in a search result or an mmrazor fix-subnet file."""
    subnet = load(path)
    if 'arch' in subnet:
        return subnet['arch']
    stages = {}
    for alias, chosen in subnet.items():
        match = _ALIAS.match(alias)
        if match and match.group(2) in _KEYS:
            value = chosen['chosen'] if isinstance(chosen, dict) else chosen
            stages.setdefault(_KEYS[match.group(2)], {})[int(
                match.group(1))] = value
    if set(stages) != set(_KEYS.values()):
        raise UserError(f'{path} names no complete FlowNAS architecture')
    return {key: [v[i] for i in sorted(v)] for key, v in stages.items()}


@cli_main
def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    # The teacher's weights come with the supernet checkpoint.
    cfg.model.teacher_ckpt = None
    flownas = build_model(cfg, args.checkpoint)
    arch = read_arch(args.subnet)
    model_cfg, state_dict = export_subnet(flownas, arch)
    static = MODELS.build(model_cfg)
    static.load_state_dict(state_dict)
    static.eval()
    torch.manual_seed(0)
    pair = torch.rand(1, 6, *args.check_shape) * 2 - 1
    with torch.no_grad():
        difference = (static(pair) - flownas(pair)).abs().max().item()
    if difference > 1e-4:
        raise RuntimeError(f'the exported model differs from the supernet '
                           f'by up to {difference:.3g}')
    paths = write_static_raft(
        model_cfg,
        state_dict,
        args.out,
        args.base_config,
        meta=dict(arch=arch, supernet=args.checkpoint))
    params = sum(p.numel() for p in static.parameters()) / 1e6
    print(f'Exported {arch} ({params:.3f} M parameters; flow equal to the '
          f'supernet\'s within {difference:.2g}) to {paths[0]} and '
          f'{paths[1]}')


if __name__ == '__main__':
    main()
