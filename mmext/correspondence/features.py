"""Intermediate ResNet features: single blocks and hyperpixels.

Layers are numbered as in hyperpixel flow and the contrastive-correspondence
reference: 0 is the stem output (after max pooling), ``k`` the output of the
k-th residual block counted over all stages (ResNet-50: 1-16, layer3 ends at
13). mmpretrain's blocks apply their last ReLU inside ``forward``, so the
features here are post-ReLU, where the reference taps the sum just before it.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from mmext.errors import BadValueError

__all__ = [
    'num_resnet_blocks', 'layer_stride', 'resnet_block_features',
    'hyperpixel_features'
]


def num_resnet_blocks(backbone):
    """Number of residual blocks of an mmpretrain ResNet."""
    return sum(len(getattr(backbone, name)) for name in backbone.res_layers)


def _stem_modules(backbone):
    stem = [backbone.stem] if getattr(backbone, 'deep_stem', False) else [
        backbone.conv1]
    maxpool = getattr(backbone, 'maxpool', None)
    return stem if maxpool is None else stem + [maxpool]


def _module_stride(module):
    """Product of the strides of the convolutions and poolings in a stem."""
    strides = [m.stride for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
    return math.prod(s[0] if isinstance(s, tuple) else s for s in strides)


def layer_stride(backbone, layer_id):
    """Nominal stride of a layer in input pixels (ResNet-50: 4 for 0-3, 8 for
    4-7, 16 for 8-13, 32 for 14-16), from the stem's and the stages' strides.

    Args:
        backbone (mmpretrain.models.ResNet): The network.
        layer_id (int): Layer number (see the module docstring).
    """
    _check_layer_ids(backbone, [layer_id])
    stride = math.prod(_module_stride(m) for m in _stem_modules(backbone))
    first_block = 1
    for name, stage_stride in zip(backbone.res_layers, backbone.strides):
        if layer_id < first_block:
            break
        stride *= stage_stride
        first_block += len(getattr(backbone, name))
    return stride


def _check_layer_ids(backbone, layer_ids):
    num_blocks = num_resnet_blocks(backbone)
    bad = [i for i in layer_ids if not 0 <= int(i) <= num_blocks]
    if not layer_ids or bad:
        raise BadValueError(
            f'layer ids {list(layer_ids) if not bad else bad} are out of range: '
            f'{type(backbone).__name__} has blocks 1..{num_blocks} '
            '(0 is the stem)')


def _stem(backbone, inputs):
    if getattr(backbone, 'deep_stem', False):
        x = backbone.stem(inputs)
    else:
        x = backbone.relu(backbone.norm1(backbone.conv1(inputs)))
    maxpool = getattr(backbone, 'maxpool', None)
    return x if maxpool is None else maxpool(x)


def resnet_block_features(backbone, inputs, layer_ids):
    """Features of the given layers, running the network only as deep as needed.

    Args:
        backbone (mmpretrain.models.ResNet): The network.
        inputs (Tensor): Images, (N, 3, H, W).
        layer_ids (Sequence[int]): Layer numbers (see the module docstring).

    Returns:
        list[Tensor]: One (N, C_k, H_k, W_k) map per id, in the given order.
    """
    _check_layer_ids(backbone, layer_ids)
    wanted = set(int(i) for i in layer_ids)
    x = _stem(backbone, inputs)
    features = {0: x}
    block_id = 0
    for name in backbone.res_layers:
        for block in getattr(backbone, name):
            if block_id >= max(wanted):
                break
            x = block(x)
            block_id += 1
            features[block_id] = x
    return [features[int(i)] for i in layer_ids]


def hyperpixel_features(backbone, inputs, layer_ids):
    """Hyperpixels: the layers' features upsampled to the first layer's grid,
    concatenated along channels and L2-normalised at every position.

    Args:
        backbone (mmpretrain.models.ResNet): The network.
        inputs (Tensor): Images, (N, 3, H, W).
        layer_ids (Sequence[int]): Layer numbers; the first sets the grid.

    Returns:
        Tensor: (N, sum C_k, H_0, W_0), unit norm along dim 1.
    """
    features = resnet_block_features(backbone, inputs, layer_ids)
    size = features[0].shape[-2:]
    features = [features[0]] + [
        F.interpolate(f, size=size, mode='bilinear', align_corners=True)
        for f in features[1:]
    ]
    return F.normalize(torch.cat(features, dim=1), dim=1)
