"""The encoder Enc: an mmpretrain backbone cut after a configurable stage.

The stage index says how deep the released representation is; everything
after it belongs to the task classifier (neck and head) or is dropped.
"""
import copy

from mmpretrain.registry import MODELS
from torch import nn

from mmext.errors import BadValueError

__all__ = ['build_cut_backbone']


def build_cut_backbone(backbone: dict, cut_stage: int) -> nn.Module:
    """Build ``backbone`` so that it returns the output of stage
    ``cut_stage`` (0-based) only.

    Any mmpretrain backbone with ``out_indices`` works: it is built with
    ``out_indices=(cut_stage,)``. Stages after the cut are removed from
    ResNet-family backbones (those listing their stages in ``res_layers``:
    ResNet, ResNetV1c/d, ResNet_CIFAR, ResNeXt, SEResNet, ...), so they are
    neither computed nor saved; other backbones still compute them but their
    output is unused.

    Args:
        backbone (dict): mmpretrain backbone config, e.g.
            ``dict(type='ResNet', depth=18)``.
        cut_stage (int): Index of the last stage of the encoder.

    Raises:
        BadValueError: ``cut_stage`` is not a stage of the backbone (a
            ValueError).
    """
    cfg = copy.deepcopy(dict(backbone))
    name = cfg.get('type')
    if not isinstance(cut_stage, int) or cut_stage < 0:
        raise BadValueError(
            f'cut_stage must be a stage index >= 0, got {cut_stage!r}')
    num_stages = cfg.get('num_stages')
    if num_stages is not None and cut_stage >= num_stages:
        raise BadValueError(
            f'cut_stage={cut_stage} is beyond backbone {name!r}, which has '
            f'num_stages={num_stages} (stages 0..{num_stages - 1})')
    cfg['out_indices'] = (cut_stage, )
    try:
        encoder = MODELS.build(cfg)
    except (AssertionError, IndexError) as error:
        # mmpretrain's backbones check out_indices with bare asserts or fail
        # indexing their stage table.
        raise BadValueError(
            f'cut_stage={cut_stage} is beyond backbone {name!r}: it rejects '
            f'out_indices=({cut_stage},) ({type(error).__name__}'
            f'{": " + str(error) if str(error) else ""})') from None
    stage_names = getattr(encoder, 'res_layers', None)
    if isinstance(stage_names, list):
        if cut_stage >= len(stage_names):
            raise BadValueError(
                f'cut_stage={cut_stage} is beyond backbone {name!r}, which '
                f'has {len(stage_names)} stages')
        for stage in stage_names[cut_stage + 1:]:
            delattr(encoder, stage)
        del stage_names[cut_stage + 1:]
    return encoder
