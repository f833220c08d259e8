"""Convert an official FlowNAS release to the subnet of --config (required).

The target is the mmext RAFT of a FlowNAS subnet config; the official code is
VDIGPKU/FlowNAS.

The released FlowNAS-RAFT-S and FlowNAS-RAFT-K files hold the whole
weight-sharing supernet: the official ``evaluate_supernet.py`` loads them
strictly into ``FlowNAS(args, ARCH_INFO)`` (the paper's search space, the same
as mmext's ``FLOWNAS_SEARCH_SPACE``) and then picks the subnet by
``set_active_subnet``. This converter cuts the subnet of ``--config``'s
encoders out of the supernet as the official dynamic ops slice it:

- ``blocks.N`` numbers the blocks of all stages at the largest depths
  (2, 3, 3, 3, 4, 2); a stage of depth d uses its first d blocks;
- 1x1 convolutions and norms keep their first output / input channels;
  depthwise kernels keep their centre (``KERNEL_TRANSFORM_MODE`` is None: no
  kernel transform matrices);
- a block whose input and output widths agree and that does not stride skips
  its shortcut convolution; the BN statistics kept for the largest and the
  smallest subnet (``bn_tracking``) are not used by the model.

Layout changes: the stem reads BGR here (its input channels are reversed),
and mmext's stem convolution has no bias because a norm follows it: the
official bias cancels in the feature encoder's InstanceNorm and moves into
the context encoder's BN running mean (``mean - bias``); both are exact.

The official shortcut average-pools with ``padding=1`` on odd widths, mmext's
with ``ceil_mode``; they agree wherever the feature maps have even sizes,
i.e. on inputs whose sides are multiples of 8, as both pipelines pad them.

The released subnets are ``configs/flownas/flownas-raft-s_8xb2-100k_
flyingthings3d-sintel-368x768.py`` (FlowNAS-RAFT-S, Sintel) and
``configs/flownas/flownas-raft-k_8xb2-50k_kitti2015-288x960.py``
(FlowNAS-RAFT-K, KITTI); their architectures are those of the official
``evaluate_supernet.py``. Example::

    python tools/model_converters/flownas_to_mmext.py FlowNAS-RAFT-K.pth \\
        flownas-raft-k_mmext.pth \\
        --config configs/flownas/flownas-raft-k_8xb2-50k_kitti2015-288x960.py
"""
from collections import OrderedDict
from typing import Dict, List, Tuple

from mmext.engine import load_config
from mmext.flow.official_raft import UPDATE_BLOCK_RULES, rgb_to_bgr_input
from mmext.model_converters import (ConversionError, converter_main,
                                    rename_keys)
from mmext.razor.flownas import (ARCH_KEYS, FLOWNAS_SEARCH_SPACE,
                                 FLOWNAS_STRIDES)

#: The official supernet's stem width.
STEM_CHANNELS = 64


def subnet_of(config: str) -> Dict[str, List[int]]:
    """The architecture of ``config``'s encoders, checked to be a subnet of
    the official supernet."""
    model = load_config(config).model
    encoders = [model.get('encoder', {}), model.get('cxt_encoder', {})]
    if any(enc.get('type') != 'FlowNASEncoder' for enc in encoders):
        raise ConversionError(
            f'{config}: model.encoder and model.cxt_encoder must both be '
            'FlowNASEncoder (a FlowNAS subnet config)')
    archs = [{key: list(enc[key]) for key in ARCH_KEYS} for enc in encoders]
    if archs[0] != archs[1]:
        raise ConversionError(
            f'{config}: the official context encoder takes the feature '
            f'encoder\'s architecture, but they differ: {archs}')
    for enc in encoders:
        layout = (list(enc.get('strides', FLOWNAS_STRIDES)),
                  enc.get('stem_channels', STEM_CHANNELS))
        if layout != (list(FLOWNAS_STRIDES), STEM_CHANNELS):
            raise ConversionError(
                f'{config}: strides and stem_channels {layout} differ from '
                f'the official supernet\'s {list(FLOWNAS_STRIDES)}, '
                f'{STEM_CHANNELS}')
    arch = archs[0]
    for key in ARCH_KEYS:
        space = FLOWNAS_SEARCH_SPACE[key]
        if len(arch[key]) != len(space):
            raise ConversionError(
                f'{config}: {key} needs one value per stage ({len(space)})')
        for stage, (value, choices) in enumerate(zip(arch[key], space)):
            if value not in choices:
                raise ConversionError(
                    f'{config}: stage {stage + 1} {key} {value} is not in '
                    f'the official search space {choices}')
    for stage, (ratio, choices) in enumerate(
            zip(arch['expand_ratios'], FLOWNAS_SEARCH_SPACE['expand_ratios'])):
        if ratio == 1 and max(choices) > 1:
            raise ConversionError(
                f'{config}: stage {stage + 1} has expand ratio 1, where the '
                'official supernet still runs its expansion convolution '
                '(mmext\'s block has none); no mmext model computes it')
    return arch


def _keep(*index):
    """Slice a tensor to the subnet's part; a copy, so that the saved file
    does not keep the supernet's storage."""
    return lambda tensor: tensor[index].clone()


def _channels(n):
    """Keep the first ``n`` channels of a per-channel norm tensor."""
    return lambda tensor: tensor[:n].clone() if tensor.dim() else tensor


def encoder_rules(official: str, mmext: str,
                  arch: Dict[str, List[int]]) -> Tuple[list, list]:
    """Rules and drop patterns for the supernet encoder ``official``
    (``fnet`` / ``cnet``) -> mmext's ``FlowNASEncoder`` ``mmext``."""
    rules = [
        (rf'{official}\.first_conv\.weight', f'{mmext}.stem.conv.weight',
         rgb_to_bgr_input),
        (rf'{official}\.norm1\.(\w+)', rf'{mmext}.stem.bn.\1', None),
        (rf'{official}\.last_conv\.point_linear\.conv\.conv\.weight',
         f'{mmext}.projection.weight',
         _keep(slice(None), slice(arch['widths'][-1]))),
    ]
    drop = []
    first, in_channels = 0, STEM_CHANNELS
    for stage, max_depth in enumerate(
            max(depths) for depths in FLOWNAS_SEARCH_SPACE['depths']):
        width, depth, kernel, ratio = (arch[key][stage] for key in ARCH_KEYS)
        crop = (max(FLOWNAS_SEARCH_SPACE['kernel_sizes'][stage]) - kernel) // 2
        for j in range(max_depth):
            src = rf'{official}\.blocks\.{first + j}\.'
            if j >= depth:
                drop.append(src + '.*')
                continue
            dst = f'{mmext}.layer{stage + 1}.{j}.'
            mid = in_channels * ratio
            conv = src + r'mobile_inverted_conv\.'
            rules += [
                (conv + r'inverted_bottleneck\.conv\.conv\.weight',
                 dst + 'expand_conv.conv.weight',
                 _keep(slice(mid), slice(in_channels))),
                (conv + r'inverted_bottleneck\.bn\.bn\.(\w+)',
                 dst + r'expand_conv.bn.\1', _channels(mid)),
                (conv + r'depth_conv\.conv\.conv\.weight',
                 dst + 'depthwise_conv.conv.weight',
                 _keep(slice(mid), slice(None), slice(crop, crop + kernel),
                       slice(crop, crop + kernel))),
                (conv + r'depth_conv\.bn\.bn\.(\w+)',
                 dst + r'depthwise_conv.bn.\1', _channels(mid)),
                (conv + r'point_linear\.conv\.conv\.weight',
                 dst + 'linear_conv.conv.weight',
                 _keep(slice(width), slice(mid))),
                (conv + r'point_linear\.bn\.bn\.(\w+)',
                 dst + r'linear_conv.bn.\1', _channels(width)),
            ]
            drop.append(conv + r'\w+\.bn\.bn_tracking\..*')
            shortcut = src + r'shortcut\.conv\.conv\.weight'
            if in_channels == width:
                drop.append(shortcut)
            else:
                rules.append((shortcut, dst + 'shortcut_conv.weight',
                              _keep(slice(width), slice(in_channels))))
            in_channels = width
        first += max_depth
    return rules, drop


def fold_stem_bias(state_dict: dict, official: str) -> None:
    """Remove the stem convolution's bias where the norm after it absorbs
    it exactly: a norm without weights or statistics (the feature encoder's
    InstanceNorm) cancels it; a BN takes it into its running mean (``BN(x +
    b)`` with mean ``m`` is ``BN(x)`` with mean ``m - b``). Any other norm
    keeps it, and the bias then shows among the unmapped keys."""
    bias = f'{official}.first_conv.bias'
    mean = f'{official}.norm1.running_mean'
    has_norm_keys = any(k.startswith(f'{official}.norm1.') for k in state_dict)
    if bias not in state_dict:
        return
    if not has_norm_keys:
        del state_dict[bias]
    elif mean in state_dict:
        state_dict[mean] = state_dict[mean] - state_dict.pop(bias)


def convert(state_dict: dict, config: str) -> dict:
    """The official supernet state dict -> the subnet of ``config``."""
    arch = subnet_of(config)
    state_dict = OrderedDict(state_dict)
    rules, drop = list(UPDATE_BLOCK_RULES), []
    for official, mmext in (('fnet', 'encoder'), ('cnet', 'context')):
        fold_stem_bias(state_dict, official)
        encoder, unused = encoder_rules(official, mmext, arch)
        rules += encoder
        drop += unused
    return rename_keys(state_dict, rules, drop)


if __name__ == '__main__':
    converter_main(convert, __doc__.splitlines()[0], needs_config=True)
