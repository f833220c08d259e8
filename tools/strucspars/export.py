"""Export a structured-sparsification checkpoint as a grouped-conv model.

    python tools/strucspars/export.py CONFIG CHECKPOINT --prune-ratio 0.5 \
        [--out-dir DIR] [--input-size 224 224] [--cfg-options k=v ...]

CONFIG is the sparsification config that trained CHECKPOINT. The bisection on
``p`` picks each conv's group count so that the requested share of the
sparsified conv weights is pruned; the tool then writes, under DIR (default
``work_dirs/<config name>/deploy``):

* ``deploy.pth``: the deploy model's weights (grouped convs and channel
  permutations);
* ``deploy_config.py``: CONFIG with the model replaced by the deploy model
  (``StrucSparsDeploySubModel``), the sparsification hooks replaced by
  ``FoldPermutationsHook`` and ``load_from`` set to ``deploy.pth``: evaluate
  it with ``tools/test.py deploy_config.py deploy.pth`` (which tests the
  folded model), fine-tune it with ``tools/train.py
  deploy_config.py`` (or a fine-tune recipe that reads ``groups.json``);
* ``groups.json``: the group count per conv.

It checks that the deploy model and its folded form compute what the masked
dense model does, and prints FLOPs (multiply-adds) and parameters of both, counted by mmengine's
analysis tools.
"""
import argparse
import copy
import json
import os.path as osp

import torch
from mmengine import fileio
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.checkpoint import load_model_weights
from mmext.engine import DictAction, cli_main, load_config
from mmext.razor.strucspars import fold_permutations, to_deploy

SPARSIFICATION_HOOKS = ('PermutationUpdateHook', 'SparsityLambdaHook')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Export a structured-sparsification checkpoint as a '
        'grouped-conv deploy model')
    parser.add_argument('config', help='the sparsification config')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument(
        '--prune-ratio',
        type=float,
        required=True,
        help='share of the sparsified conv weights to prune, in [0, 1)')
    parser.add_argument(
        '--out-dir',
        help='output folder (default: work_dirs/<config name>/deploy)')
    parser.add_argument(
        '--input-size',
        type=int,
        nargs=2,
        default=[224, 224],
        metavar=('H', 'W'),
        help='input size for counting FLOPs (default: 224 224)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args()


def build_algorithm(cfg):
    """The config's StructuredSparsification model, as the Runner builds it,
    without initial weights (the checkpoint brings them)."""
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model_cfg.architecture.pop('init_cfg', None)
    return MODELS.build(model_cfg)


def deploy_config(cfg, groups, checkpoint):
    """The sparsification config turned into the deploy model's config."""
    cfg = copy.deepcopy(cfg)
    architecture = cfg.model.architecture
    architecture.pop('init_cfg', None)
    cfg.model = dict(
        _scope_='mmrazor',
        type='StrucSparsDeploySubModel',
        architecture=architecture,
        groups=groups)
    cfg.custom_hooks = [
        hook for hook in cfg.get('custom_hooks', [])
        if hook['type'].split('.')[-1] not in SPARSIFICATION_HOOKS
    ] + [dict(type='mmrazor.FoldPermutationsHook')]
    cfg.load_from = checkpoint
    cfg.resume = False
    return cfg


def complexity(model, input_size):
    """FLOPs (multiply-adds) and parameters, by mmengine's analysis tools."""
    inputs = torch.randn(1, 3, *input_size)
    flops = FlopAnalyzer(model, inputs).unsupported_ops_warnings(
        False).uncalled_modules_warnings(False).total()
    return flops, parameter_count(model)['']


def _size(value):
    return f'{value / 1e9:.3f} G' if value >= 1e9 else f'{value / 1e6:.3f} M'


@cli_main
def main():
    args = parse_args()
    if not 0 <= args.prune_ratio < 1:
        raise ValueError(
            f'--prune-ratio must be in [0, 1), got {args.prune_ratio}')
    cfg = load_config(args.config, args.cfg_options)
    out_dir = args.out_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0], 'deploy')

    algorithm = build_algorithm(cfg)
    load_model_weights(algorithm, args.checkpoint)
    algorithm.eval()
    threshold, groups, ratio = algorithm.groups_for_ratio(args.prune_ratio)
    algorithm.set_groups(groups)
    deploy = to_deploy(algorithm).eval()

    # The deploy model must compute what the masked dense model computes.
    inputs = torch.randn(2, 3, *args.input_size)
    with torch.no_grad():
        deploy_out = deploy(inputs)
        folded_out = fold_permutations(deploy, inputs)(inputs)
        dense_flops, dense_params = complexity(algorithm.architecture,
                                               args.input_size)
        algorithm.mask_weights()
        masked_out = algorithm.architecture(inputs)
        deploy_flops, deploy_params = complexity(deploy, args.input_size)
    difference = (deploy_out - masked_out).abs().max().item()
    folded_difference = (folded_out - masked_out).abs().max().item()
    torch.testing.assert_close(deploy_out, masked_out, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(folded_out, masked_out, rtol=1e-4, atol=1e-4)

    checkpoint = osp.abspath(osp.join(out_dir, 'deploy.pth'))
    save_checkpoint(
        dict(
            meta=dict(
                strucspars=dict(
                    prune_ratio=ratio,
                    requested_prune_ratio=args.prune_ratio,
                    threshold=threshold)),
            state_dict=weights_to_cpu(deploy.state_dict())), checkpoint)
    fileio.put(
        json.dumps(groups, indent=2).encode(),
        osp.join(out_dir, 'groups.json'))
    config = osp.join(out_dir, 'deploy_config.py')
    fileio.put(
        deploy_config(cfg, groups, checkpoint).pretty_text.encode(), config)

    grouped = sum(count > 1 for count in groups.values())
    print(f'p = {threshold:.6f}: {grouped} of {len(groups)} convs grouped, '
          f'{ratio:.2%} of their weights pruned '
          f'(requested {args.prune_ratio:.2%})')
    print(f'deploy vs masked dense model: max |difference| {difference:.2e} '
          f'(folded: {folded_difference:.2e})')
    print(f'{"":8}{"FLOPs":>14}{"params":>14}   (input '
          f'{args.input_size[0]}x{args.input_size[1]})')
    print(f'{"dense":8}{_size(dense_flops):>14}{_size(dense_params):>14}')
    print(f'{"deploy":8}{_size(deploy_flops):>14}{_size(deploy_params):>14}')
    print(f'{"ratio":8}{deploy_flops / dense_flops:>14.3f}'
          f'{deploy_params / dense_params:>14.3f}')
    print(f'wrote {checkpoint}, {config} and groups.json')


if __name__ == '__main__':
    main()
