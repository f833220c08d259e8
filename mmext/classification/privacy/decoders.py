"""The model-inversion adversary Dec: a decoder from the representation back
to the image.

mmpretrain has no image decoder for classification features (its MAE/SimMIM
decoders predict patch tokens of a ViT), so this is a plain upsampling
convolutional decoder, the usual shape of a model-inversion attacker.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import nn

from mmext.errors import BadValueError

__all__ = ['ConvDecoder']

OUTPUT_ACTIVATIONS = {'tanh': nn.Tanh, 'identity': nn.Identity}


@MODELS.register_module()
class ConvDecoder(BaseModule):
    """Upsampling decoder: per stage a 2x nearest upsampling followed by
    conv-norm-ReLU blocks, then a 3x3 convolution to the image channels.

    The output is resized (bilinear) to the requested image size when the
    upsampling does not land on it exactly.

    Args:
        in_channels (int): Channels of the representation.
        channels (Sequence[int]): Width of each upsampling stage; one 2x
            upsampling per entry. An empty sequence decodes at the
            representation's resolution. Defaults to ``(64, 32)``.
        blocks_per_stage (int): Conv blocks after each upsampling.
            Defaults to 1.
        out_channels (int): Image channels. Defaults to 3.
        out_act (str): ``'tanh'`` (images normalised to [-1, 1]) or
            ``'identity'``. A bounded output also bounds the negative
            reconstruction loss the encoder maximises. Defaults to 'tanh'.
        norm_cfg (dict): Normalisation of the conv blocks.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 channels: Sequence[int] = (64, 32),
                 blocks_per_stage: int = 1,
                 out_channels: int = 3,
                 out_act: str = 'tanh',
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if out_act not in OUTPUT_ACTIVATIONS:
            raise BadValueError(
                f'out_act must be one of '
                f'{sorted(OUTPUT_ACTIVATIONS)}, got {out_act!r}')
        norm_cfg = norm_cfg or dict(type='BN')
        layers = []
        width = in_channels
        for stage_width in channels:
            layers.append(nn.Upsample(scale_factor=2, mode='nearest'))
            for _ in range(blocks_per_stage):
                layers.append(
                    ConvModule(width,
                               stage_width,
                               3,
                               padding=1,
                               norm_cfg=norm_cfg))
                width = stage_width
        self.upsample = nn.Sequential(*layers)
        self.to_image = nn.Conv2d(width, out_channels, 3, padding=1)
        self.out_act = OUTPUT_ACTIVATIONS[out_act]()

    def forward(self,
                representation: torch.Tensor,
                size: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Reconstruct images ``(N, out_channels, H, W)`` from the
        representation ``(N, in_channels, h, w)``; ``size`` is ``(H, W)``."""
        image = self.to_image(self.upsample(representation))
        if size is not None and tuple(image.shape[-2:]) != tuple(size):
            image = F.interpolate(image,
                                  size=tuple(size),
                                  mode='bilinear',
                                  align_corners=False)
        return self.out_act(image)
