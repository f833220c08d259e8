"""A FlowNAS subnet as a standalone RAFT: config plus inherited weights.

The subnet becomes an mmext ``RAFT`` whose encoders are
:class:`~.searchable_encoder.FlowNASEncoder` of the chosen architecture. Its
weights are the supernet's, sliced by mmrazor's ``export_fix_subnet`` (every
dynamic op becomes its static op with the active part of the weights) and
matched by name, so the standalone model computes what the supernet computes
with that subnet fixed.
"""
import os
import os.path as osp
import pprint
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmrazor.structures import export_fix_subnet
from torch import Tensor

from mmext.registry import MODELS
from .algorithm import FlowNAS

__all__ = ['export_subnet', 'write_static_raft']


def export_subnet(
        flownas: FlowNAS,
        arch: Optional[Dict[str, List[int]]] = None
) -> Tuple[dict, Dict[str, Tensor]]:
    """The standalone RAFT of a subnet: its config and its weights.

    Args:
        flownas (FlowNAS): The trained supernet algorithm.
        arch (dict, optional): The architecture (per-stage ``widths``,
            ``depths``, ``kernel_sizes``, ``expand_ratios``); the supernet
            is set to it. None exports the current subnet.

    Returns:
        tuple[dict, dict]: The RAFT config and a state dict that fits it
        exactly.
    """
    if arch is not None:
        flownas.set_arch(arch)
    cfg = flownas.subnet_cfg()
    _, sliced = export_fix_subnet(flownas.architecture, slice_weight=True)
    sliced_state = sliced.state_dict()
    static_state = MODELS.build(cfg).state_dict()
    state_dict = {}
    for key, value in static_state.items():
        source = sliced_state.get(key)
        if source is None or source.shape != value.shape:
            found = None if source is None else tuple(source.shape)
            raise RuntimeError(f'the sliced supernet has no weight {key} of '
                               f'shape {tuple(value.shape)} (found {found})')
        state_dict[key] = source.detach().clone()
    return cfg, state_dict


def write_static_raft(cfg: dict,
                      state_dict: Dict[str, Tensor],
                      out_prefix: str,
                      base_config: str,
                      meta: Optional[dict] = None) -> Tuple[str, str]:
    """Write an exported subnet as ``out_prefix.py`` and ``out_prefix.pth``.

    The config inherits ``base_config`` (data, schedule and runtime for
    evaluating or fine-tuning the subnet) and replaces its model by ``cfg``;
    tools/test.py and tools/train.py take it as it is.

    Args:
        cfg (dict): The RAFT config (from :func:`export_subnet`).
        state_dict (dict): Its weights.
        out_prefix (str): Output path without extension.
        base_config (str): The config to inherit.
        meta (dict, optional): Plain data (str, numbers, lists, dicts) to keep
            in the checkpoint's ``meta``, e.g. the architecture and its
            search metrics.

    Returns:
        tuple[str, str]: The config and checkpoint paths.
    """
    out_dir = osp.dirname(osp.abspath(out_prefix))
    os.makedirs(out_dir, exist_ok=True)
    base = osp.relpath(osp.abspath(base_config), out_dir)
    config_path, ckpt_path = out_prefix + '.py', out_prefix + '.pth'
    # Replace, not merge into, a model the base config defines.
    model = dict(_delete_=True, **cfg) if 'model' in Config.fromfile(
        base_config) else cfg
    with open(config_path, 'w') as f:
        f.write('# A FlowNAS subnet exported as a standalone RAFT; weights: '
                f'{osp.basename(ckpt_path)}\n')
        f.write(f'_base_ = [{base!r}]\n\n')
        f.write("custom_imports = dict(imports=['mmext', "
                "'mmext.razor.flownas'], allow_failed_imports=False)\n\n")
        f.write(f'model = {pprint.pformat(model, sort_dicts=False)}\n')
    torch.save(dict(meta=meta or {}, state_dict=state_dict), ckpt_path)
    return config_path, ckpt_path
