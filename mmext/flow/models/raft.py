"""RAFT: Recurrent All-Pairs Field Transforms for optical flow (Teed & Deng, 2020).

Re-implemented on mmengine with mmflow 0.5.2's maths, type names, config keys and
weight names, so mmflow model-zoo checkpoints load unchanged and give the same flow.
Read top to bottom as the paper's figure: feature and context encoders, all-pairs
correlation pyramid, lookup, the recurrent update operator (motion encoder, GRU,
flow head), convex upsampling, and the estimator that joins them.
"""
import math
from contextlib import nullcontext
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

from mmext.registry import MODELS
from ..amp import full_precision
from .base import FlowEstimator, build_component

# ---------------------------------------------------------------------------
# Feature and context encoders
# ---------------------------------------------------------------------------


def _add_norm(module: nn.Module, norm_cfg: dict, channels: int,
              postfix: Union[int, str]) -> str:
    """Add a norm layer named as mmcv names it (``bn1``, ``in2``, ...)."""
    name, norm = build_norm_layer(norm_cfg, channels, postfix=postfix)
    module.add_module(name, norm)
    return name


class _ResidualBlock(nn.Module):
    """``relu(residual(x) + shortcut(x))``; subclasses define ``residual``."""

    def forward(self, x: Tensor) -> Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)

    def _forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.residual(x) + identity)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convolutions, each followed by norm and ReLU (as in RAFT).

    Args:
        in_channels (int): Input channels.
        channels (int): Output channels.
        stride (int): Stride of the first convolution. Defaults to 1.
        dilation (int): Dilation of the first convolution. Defaults to 1.
        downsample (nn.Module, optional): Shortcut projection; None for identity.
        conv_cfg (dict, optional): Convolution config. Defaults to None.
        norm_cfg (dict): Norm config. Defaults to dict(type='BN').
        with_cp (bool): Use activation checkpointing. Defaults to False.
    """

    expansion = 1

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 stride: int = 1,
                 dilation: int = 1,
                 downsample: Optional[nn.Module] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False) -> None:
        super().__init__()
        self.conv1 = build_conv_layer(
            conv_cfg,
            in_channels,
            channels,
            3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            bias=True)
        self.norm1_name = _add_norm(self, norm_cfg, channels, 1)
        self.conv2 = build_conv_layer(
            conv_cfg, channels, channels, 3, padding=1, bias=True)
        self.norm2_name = _add_norm(self, norm_cfg, channels, 2)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp

    def residual(self, x: Tensor) -> Tensor:
        x = self.relu(getattr(self, self.norm1_name)(self.conv1(x)))
        return self.relu(getattr(self, self.norm2_name)(self.conv2(x)))


class Bottleneck(_ResidualBlock):
    """1x1, 3x3 (strided), 1x1 convolutions with norms; ``channels * 4`` out.

    As in mmflow, no ReLU between the last norm and the shortcut sum.

    Args:
        in_channels (int): Input channels.
        channels (int): Inner channels; the output has ``4 * channels``.
        stride (int): Stride of the 3x3 convolution. Defaults to 1.
        dilation (int): Dilation of the 3x3 convolution. Defaults to 1.
        downsample (nn.Module, optional): Shortcut projection; None for identity.
        conv_cfg (dict, optional): Convolution config. Defaults to None.
        norm_cfg (dict): Norm config. Defaults to dict(type='BN').
        with_cp (bool): Use activation checkpointing. Defaults to False.
    """

    expansion = 4

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 stride: int = 1,
                 dilation: int = 1,
                 downsample: Optional[nn.Module] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = build_conv_layer(
            conv_cfg, in_channels, channels, 1, bias=True)
        self.norm1_name = _add_norm(self, norm_cfg, channels, 1)
        self.conv2 = build_conv_layer(
            conv_cfg,
            channels,
            channels,
            3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            bias=True)
        self.norm2_name = _add_norm(self, norm_cfg, channels, 2)
        self.conv3 = build_conv_layer(
            conv_cfg, channels, out_channels, 1, bias=True)
        self.norm3_name = _add_norm(self, norm_cfg, out_channels, 3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp

    def residual(self, x: Tensor) -> Tensor:
        x = self.relu(getattr(self, self.norm1_name)(self.conv1(x)))
        x = self.relu(getattr(self, self.norm2_name)(self.conv2(x)))
        return getattr(self, self.norm3_name)(self.conv3(x))


def _make_stage(block: type, in_channels: int, channels: int, num_blocks: int,
                stride: int, dilation: int, avg_down: bool,
                conv_cfg: Optional[dict], norm_cfg: dict,
                with_cp: bool) -> nn.Sequential:
    """A stage of residual blocks; the first one changes stride and width."""
    out_channels = channels * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        layers = []
        conv_stride = stride
        if avg_down:
            layers.append(
                nn.AvgPool2d(
                    stride, stride, ceil_mode=True, count_include_pad=False))
            conv_stride = 1
        layers.append(
            build_conv_layer(
                conv_cfg,
                in_channels,
                out_channels,
                1,
                stride=conv_stride,
                bias=True))
        layers.append(build_norm_layer(norm_cfg, out_channels)[1])
        downsample = nn.Sequential(*layers)
    blocks = [
        block(in_channels, channels, stride, dilation, downsample, conv_cfg,
              norm_cfg, with_cp)
    ]
    blocks += [
        block(out_channels, channels, 1, dilation, None, conv_cfg, norm_cfg,
              with_cp) for _ in range(num_blocks - 1)
    ]
    return nn.Sequential(*blocks)


@MODELS.register_module()
class RAFTEncoder(BaseModule):
    """RAFT's feature / context encoder: a stride-8 residual network.

    A 7x7 stride-2 stem, three stages of two residual blocks (strides 1, 2, 2),
    then a 1x1 convolution to ``out_channels``. RAFT uses it twice: with
    InstanceNorm as the feature encoder of both images, and with (Sync)BN as the
    context encoder of image 1.

    Args:
        in_channels (int): Input channels (3 for one image).
        out_channels (int): Output channels.
        net_type (str): 'Basic' (BasicBlock, widths 64/96/128, stem 64) or 'Small'
            (Bottleneck, widths 8/16/24 times 4, stem 32). Defaults to 'Basic'.
        stem_channels (int, optional): Stem width; None takes net_type's.
        base_channels (Sequence[int], optional): Stage widths; None takes
            net_type's.
        num_stages (int, optional): Number of stages (1 to 3); None takes all.
        strides (Sequence[int], optional): First-block stride of each stage;
            None for (1, 2, 2).
        dilations (Sequence[int], optional): Dilation of each stage; None for 1s.
        deep_stem (bool): Replace the 7x7 stem by three 3x3 convolutions.
            Defaults to False.
        avg_down (bool): Downsample shortcuts by average pooling instead of a
            strided 1x1 convolution. Defaults to False. (mmflow accepts but
            ignores this key; here it takes effect.)
        frozen_stages (int): Freeze the stem and the first ``frozen_stages``
            stages (eval mode, no gradients); -1 freezes nothing. Defaults to -1.
            (mmflow accepts but ignores this key; here it takes effect.)
        conv_cfg (dict, optional): Convolution config. Defaults to None.
        norm_cfg (dict): Norm config, e.g. dict(type='IN') or dict(type='SyncBN').
            Defaults to dict(type='BN', requires_grad=True).
        norm_eval (bool): Keep BN layers in eval mode while training. Defaults
            to False. (mmflow accepts but ignores this key; here it takes effect.)
        plugins (list, optional): Not supported (nor by mmflow); must be None.
        with_cp (bool): Use activation checkpointing. Defaults to False.
        init_cfg (dict | list, optional): Weight initialisation config.
    """

    _arch_settings = {
        'Basic': (BasicBlock, (2, 2, 2)),
        'Small': (Bottleneck, (2, 2, 2))
    }
    _stem_channels = {'Basic': 64, 'Small': 32}
    _base_channels = {'Basic': (64, 96, 128), 'Small': (8, 16, 24)}

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 net_type: str = 'Basic',
                 stem_channels: Optional[int] = None,
                 base_channels: Optional[Sequence[int]] = None,
                 num_stages: Optional[int] = None,
                 strides: Optional[Sequence[int]] = None,
                 dilations: Optional[Sequence[int]] = None,
                 deep_stem: bool = False,
                 avg_down: bool = False,
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 plugins: Optional[Sequence[dict]] = None,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if net_type not in self._arch_settings:
            raise KeyError(f'invalid net type {net_type} for RAFT')
        if plugins is not None:
            raise NotImplementedError('RAFTEncoder does not support plugins')
        block, stage_blocks = self._arch_settings[net_type]
        base_channels = base_channels or self._base_channels[net_type]
        num_stages = num_stages or len(base_channels)
        strides = strides or (1, 2, 2)[:num_stages]
        dilations = dilations or (1, ) * num_stages
        if not 1 <= num_stages <= 3:
            raise ValueError(f'need 1 to 3 stages, got {num_stages}')
        if not len(strides) == len(dilations) == num_stages:
            raise ValueError('need one stride and one dilation per stage')

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.deep_stem = deep_stem
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        stem_channels = stem_channels or self._stem_channels[net_type]
        self._make_stem(in_channels, stem_channels, conv_cfg, norm_cfg)
        self.res_layers = []
        channels = stem_channels
        for i in range(num_stages):
            stage = _make_stage(block, channels, base_channels[i],
                                stage_blocks[i], strides[i], dilations[i],
                                avg_down, conv_cfg, norm_cfg, with_cp)
            self.add_module(f'res_layer{i + 1}', stage)
            self.res_layers.append(f'res_layer{i + 1}')
            channels = base_channels[i] * block.expansion
            if i == 0:
                # Registered here, not last, because mmflow registers it after
                # the first stage: optimizer states saved by mmflow list the
                # parameters in that order, and resuming maps them by index.
                self.conv2 = build_conv_layer(
                    conv_cfg,
                    base_channels[num_stages - 1] * block.expansion,
                    out_channels,
                    kernel_size=1)
        self._freeze_stages()

    def _make_stem(self, in_channels: int, stem_channels: int,
                   conv_cfg: Optional[dict], norm_cfg: dict) -> None:
        if self.deep_stem:
            widths = (in_channels, stem_channels // 2, stem_channels // 2,
                      stem_channels)
            layers = []
            for i in range(3):
                layers += [
                    build_conv_layer(
                        conv_cfg,
                        widths[i],
                        widths[i + 1],
                        3,
                        stride=2 if i == 0 else 1,
                        padding=1,
                        bias=True),
                    build_norm_layer(norm_cfg, widths[i + 1])[1],
                    nn.ReLU(inplace=True)
                ]
            self.stem = nn.Sequential(*layers)
        else:
            self.conv1 = build_conv_layer(
                conv_cfg,
                in_channels,
                stem_channels,
                kernel_size=7,
                stride=2,
                padding=3,
                bias=True)
            self.norm1_name = _add_norm(self, norm_cfg, stem_channels, 1)
            self.relu = nn.ReLU(inplace=True)

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        stem = [self.stem] if self.deep_stem else [
            self.conv1, getattr(self, self.norm1_name)
        ]
        return stem + [
            getattr(self, name)
            for name in self.res_layers[:self.frozen_stages]
        ]

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'RAFTEncoder':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(getattr(self, self.norm1_name)(self.conv1(x)))
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return self.conv2(x)


# ---------------------------------------------------------------------------
# Correlation pyramid and lookup
# ---------------------------------------------------------------------------


class CorrelationPyramid(nn.Module):
    """Pools the all-pairs volume over image-2 positions: 1, 1/2, 1/4, 1/8, ...

    Args:
        num_levels (int): Number of levels. Defaults to 4.
    """

    def __init__(self, num_levels: int = 4) -> None:
        super().__init__()
        self.num_levels = num_levels
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, corr: Tensor) -> List[Tensor]:
        """(B, H, W, H, W) volume -> levels of shape (B*H*W, 1, H/2^l, W/2^l)."""
        B, H, W = corr.shape[:3]
        return self.pool_levels(corr.reshape(B * H * W, 1, H, W))

    def pool_levels(self, x: Tensor) -> List[Tensor]:
        """(N, C, H, W) -> levels (N, C, H/2^l, W/2^l), each the 2x2 average
        of the previous one.

        Pooling image-2 features (B, C, H, W) gives the memory-efficient
        lookup its levels: level l of the volume is the correlation with level
        l of the features, because the correlation is linear in them.
        """
        pyramid = [x]
        for _ in range(self.num_levels - 1):
            pyramid.append(self.pool(pyramid[-1]))
        return pyramid


class OnDemandPyramid(NamedTuple):
    """What the memory-efficient lookup reads instead of the all-pairs volume.

    Args:
        feat1 (Tensor): Image-1 features in the cost volume's dot-product
            space, (B, C, H, W).
        feat2_levels (List[Tensor]): Image-2 features in that space, pooled as
            the volume's levels are, (B, C, H/2^l, W/2^l).
    """
    feat1: Tensor
    feat2_levels: List[Tensor]


@MODELS.register_module()
class CorrLookup(nn.Module):
    """Samples each pyramid level in a (2r+1)^2 window around where flow points.

    Two paths give the same numbers (within float rounding). The all-pairs
    path (mmflow's) samples the pooled all-pairs volume, (H*W)^2 entries at
    level 0: about 4 GiB for a 1088x1920 image. The memory-efficient path
    (``memory_efficient=True``) computes only the windowed entries, on demand
    at every iteration, from the pooled image-2 features: bilinear sampling is
    linear, so sampling the volume equals the dot product with bilinearly
    sampled features. Each window's sample points share one fractional offset,
    so it takes the dot products at the (2r+2)^2 integer points around the
    window and interpolates them; the dot products come from one matrix
    product per tile of image-1 pixels against the box of image-2 features
    that the tile's windows cover, so the cost follows how far the flow of
    neighbouring pixels spreads (worst case: the level's all-pairs volume,
    computed in tile-sized pieces). Memory: O(H*W*(2r+2)^2) instead of
    O((H*W)^2); time: more, since the dot products are redone every iteration
    (measured in configs/raft/README.md).

    ``memory_efficient='auto'`` takes the memory-efficient path when the
    all-pairs volume of a batch would exceed ``auto_bytes`` (rule of thumb:
    all-pairs while it fits, since it is faster).

    Args:
        radius (int): Window radius r. Defaults to 4.
        mode (str): ``grid_sample`` interpolation. Defaults to 'bilinear'.
        padding_mode (str): ``grid_sample`` padding. Defaults to 'zeros'.
        align_corners (bool): ``grid_sample`` corner convention. Defaults to True.
        memory_efficient (bool | str): True, False or 'auto' (see above). The
            memory-efficient path needs the defaults of the three keys above.
            Defaults to False.
        auto_bytes (int): The all-pairs volume size, in bytes at level 0 for
            the whole batch, above which 'auto' computes windows on demand.
            Defaults to 2**30 (1 GiB: images up to about 768x1344 at batch 1
            stay all-pairs).
        tile (int): Side of the square tiles of image-1 pixels at level 0
            (doubling per level) of the memory-efficient path. Defaults to 8.
    """

    def __init__(self,
                 radius: int = 4,
                 mode: str = 'bilinear',
                 padding_mode: str = 'zeros',
                 align_corners: bool = True,
                 memory_efficient: Union[bool, str] = False,
                 auto_bytes: int = 2**30,
                 tile: int = 8) -> None:
        super().__init__()
        if memory_efficient not in (True, False, 'auto'):
            raise ValueError('CorrLookup: memory_efficient must be True, '
                             f"False or 'auto', got {memory_efficient!r}")
        if memory_efficient and (mode, padding_mode, align_corners) != (
                'bilinear', 'zeros', True):
            raise ValueError(
                'CorrLookup: memory_efficient needs mode=\'bilinear\', '
                'padding_mode=\'zeros\', align_corners=True')
        self.radius = radius
        self.mode = mode
        self.padding_mode = padding_mode
        self.align_corners = align_corners
        self.memory_efficient = memory_efficient
        self.auto_bytes = auto_bytes
        self.tile = tile

    def on_demand(self, feat: Tensor) -> bool:
        """Whether features of this (B, C, H, W) shape take the on-demand path."""
        if self.memory_efficient != 'auto':
            return bool(self.memory_efficient)
        B, _, H, W = feat.shape
        return B * (H * W)**2 * 4 > self.auto_bytes

    def forward(self, corr_pyramid: Union[Sequence[Tensor], OnDemandPyramid],
                flow: Tensor) -> Tensor:
        """Look up the pyramid at ``pixel + flow``.

        Args:
            corr_pyramid (Sequence[Tensor] | OnDemandPyramid): All-pairs
                levels (B*H*W, 1, h, w), or the features to compute the
                windows from.
            flow (Tensor): Current flow (B, 2, H, W) at feature resolution.

        Returns:
            Tensor: (B, levels * (2r+1)^2, H, W) correlation features.
        """
        B, _, H, W = flow.shape
        ys, xs = torch.meshgrid(
            torch.arange(H, device=flow.device),
            torch.arange(W, device=flow.device),
            indexing='ij')
        targets = torch.stack((xs, ys)).float()[None] + flow
        if isinstance(corr_pyramid, OnDemandPyramid):
            features = [
                self._windows(corr_pyramid.feat1, feat2, targets / 2**level,
                              self.tile * 2**level)
                for level, feat2 in enumerate(corr_pyramid.feat2_levels)
            ]
            return torch.cat(features, dim=1)
        targets = targets.permute(0, 2, 3, 1).reshape(B * H * W, 1, 1, 2)
        r = self.radius
        d = torch.linspace(-r, r, 2 * r + 1, device=flow.device)
        # Window axis 0 shifts x and axis 1 shifts y: RAFT's released weights
        # expect this channel order.
        offsets = torch.stack(
            torch.meshgrid(d, d, indexing='ij'),
            dim=-1).view(1, 2 * r + 1, 2 * r + 1, 2)
        features = []
        for level, corr in enumerate(corr_pyramid):
            points = targets / 2**level + offsets
            features.append(self._sample(corr, points).view(B, H, W, -1))
        return torch.cat(
            features, dim=-1).permute(0, 3, 1, 2).contiguous().float()

    def _sample(self, corr: Tensor, points: Tensor) -> Tensor:
        H, W = corr.shape[-2:]
        x = points[..., 0] * 2. / max(W - 1, 1) - 1.
        y = points[..., 1] * 2. / max(H - 1, 1) - 1.
        return F.grid_sample(corr, torch.stack((x, y), dim=-1), self.mode,
                             self.padding_mode, self.align_corners)

    def _windows(self, feat1: Tensor, feat2: Tensor, centres: Tensor,
                 tile: int) -> Tensor:
        """The all-pairs path's samples of one level, from the features.

        Args:
            feat1 (Tensor): Image-1 features (B, C, H, W).
            feat2 (Tensor): This level's image-2 features (B, C, h, w).
            centres (Tensor): Window centres (x, y) at this level, (B, 2, H, W).
            tile (int): Side of the tiles of image-1 pixels.

        Returns:
            Tensor: (B, (2r+1)^2, H, W), window axis 0 shifting x.
        """
        B, C, H, W = feat1.shape
        r, k = self.radius, 2 * self.radius + 2
        starts, steps, fracs = [], [], []
        for axis, size in ((0, feat2.shape[-1]), (1, feat2.shape[-2])):
            centre = centres[:, axis]
            if size == 1:
                # grid_sample(align_corners=True) reads index 0 of a size-1
                # axis wherever the point lies, so every window point does.
                centre, step = torch.zeros_like(centre), 0
            else:
                step = 1
            base = centre.floor()
            fracs.append(centre - base)
            # A window starting k or more outside the map reads only padding.
            starts.append((base - r * step).clamp(-k, size).long() + k)
            steps.append(step)
        (x0, y0), (fx, fy) = starts, fracs
        feat2 = F.pad(feat2, (k, k, k, k))
        spans = [step * (k - 1) + 1 for step in steps]
        grid = [torch.arange(k, device=feat1.device) * step for step in steps]
        rows = []
        for top in range(0, H, tile):
            row = []
            for left in range(0, W, tile):
                window = (slice(top, top + tile), slice(left, left + tile))
                row.append(
                    torch.stack([
                        self._tile_windows(feat1[b, :, window[0], window[1]],
                                           feat2[b], x0[b][window],
                                           y0[b][window], grid, spans)
                        for b in range(B)
                    ]))
            rows.append(torch.cat(row, dim=2))
        corr = torch.cat(rows, dim=1) / math.sqrt(C)  # (B, H, W, k_y, k_x)
        fx, fy = fx[..., None, None], fy[..., None, None]
        top_row = (1 - fx) * corr[..., :-1, :-1] + fx * corr[..., :-1, 1:]
        bottom_row = (1 - fx) * corr[..., 1:, :-1] + fx * corr[..., 1:, 1:]
        windows = (1 - fy) * top_row + fy * bottom_row
        return windows.transpose(-1, -2).reshape(B, H, W, -1).permute(
            0, 3, 1, 2)

    @staticmethod
    def _tile_windows(feat1: Tensor, feat2: Tensor, x0: Tensor, y0: Tensor,
                      grid: List[Tensor], spans: List[int]) -> Tensor:
        """Dot products of a tile's pixels with their (k, k) integer windows.

        Args:
            feat1 (Tensor): The tile's image-1 features (C, th, tw).
            feat2 (Tensor): Padded image-2 features (C, h + 2k, w + 2k).
            x0, y0 (Tensor): Window starts in the padded map, (th, tw).
            grid (List[Tensor]): Window index offsets along x and y, (k,).
            spans (List[int]): Window extent along x and y.

        Returns:
            Tensor: (th, tw, k, k), indexed [.., y, x].
        """
        C, th, tw = feat1.shape
        left, right, top, bottom = torch.stack(
            (x0.min(), x0.max(), y0.min(), y0.max())).tolist()
        box_w = right - left + spans[0]
        box = feat2[:, top:bottom + spans[1], left:left + box_w]
        corr = feat1.reshape(C, th * tw).T @ box.reshape(C, -1)
        ys = (y0 - top).reshape(-1, 1, 1) + grid[1].view(1, -1, 1)
        xs = (x0 - left).reshape(-1, 1, 1) + grid[0].view(1, 1, -1)
        k_y, k_x = len(grid[1]), len(grid[0])
        index = (ys * box_w + xs).reshape(th * tw, k_y * k_x)
        return corr.gather(1, index).view(th, tw, k_y, k_x)


# ---------------------------------------------------------------------------
# Update operator: motion encoder, GRU, flow and mask heads
# ---------------------------------------------------------------------------


class MotionEncoder(nn.Module):
    """Encodes looked-up correlation and the current flow for the GRU.

    The output is the encoded motion with the flow itself appended.

    Args:
        num_levels (int): Pyramid levels. Defaults to 4.
        radius (int): Lookup radius. Defaults to 4.
        net_type (str): 'Basic' or 'Small'. Defaults to 'Basic'.
        conv_cfg (dict, optional): Convolution config. Defaults to None.
        norm_cfg (dict, optional): Norm config. Defaults to None.
        act_cfg (dict, optional): Activation config; None means no activation,
            as in mmflow (its RAFT configs pass dict(type='ReLU')).
    """

    # (channels, kernel size) of each convolution.
    _corr_layers = {'Basic': ((256, 1), (192, 3)), 'Small': ((96, 1), )}
    _flow_layers = {'Basic': ((128, 7), (64, 3)), 'Small': ((64, 7), (32, 3))}
    _out_layers = {'Basic': ((126, 3), ), 'Small': ((80, 3), )}

    def __init__(self,
                 num_levels: int = 4,
                 radius: int = 4,
                 net_type: str = 'Basic',
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None) -> None:
        super().__init__()
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        corr_channels = num_levels * (2 * radius + 1)**2
        corr_layers = self._corr_layers[net_type]
        flow_layers = self._flow_layers[net_type]
        out_layers = self._out_layers[net_type]
        self.corr_net = self._convs(corr_channels, corr_layers, cfgs)
        self.flow_net = self._convs(2, flow_layers, cfgs)
        self.out_net = self._convs(corr_layers[-1][0] + flow_layers[-1][0],
                                   out_layers, cfgs)
        self.out_channels = out_layers[-1][0] + 2

    @staticmethod
    def _convs(in_channels: int, layers: Sequence[Tuple[int, int]],
               cfgs: dict) -> nn.Sequential:
        convs = []
        for channels, kernel in layers:
            convs.append(
                ConvModule(
                    in_channels, channels, kernel, padding=kernel // 2,
                    **cfgs))
            in_channels = channels
        return nn.Sequential(*convs)

    def forward(self, corr: Tensor, flow: Tensor) -> Tensor:
        motion = torch.cat([self.corr_net(corr), self.flow_net(flow)], dim=1)
        return torch.cat([self.out_net(motion), flow], dim=1)


class ConvGRU(nn.Module):
    """A GRU cell whose gates are convolutions over ``[h, x]``.

    'SeqConv' (RAFT's SepConvGRU) makes one GRU step with 1x5 kernels, then one
    with 5x1 kernels; 'Conv' makes a single step with 3x3 kernels.

    Args:
        h_channels (int): Hidden-state channels.
        x_channels (int): Input channels (context plus motion features).
        net_type (str): 'SeqConv' or 'Conv'. Defaults to 'SeqConv'.
    """

    _kernels = {'Conv': ((3, 3), ), 'SeqConv': ((1, 5), (5, 1))}

    def __init__(self,
                 h_channels: int,
                 x_channels: int,
                 net_type: str = 'SeqConv') -> None:
        super().__init__()
        if net_type not in self._kernels:
            raise KeyError(f'invalid GRU type {net_type}')

        def gates(act: str) -> nn.ModuleList:
            return nn.ModuleList(
                ConvModule(
                    h_channels + x_channels,
                    h_channels,
                    kernel,
                    padding=(kernel[0] // 2, kernel[1] // 2),
                    act_cfg=dict(type=act))
                for kernel in self._kernels[net_type])

        self.conv_z = gates('Sigmoid')
        self.conv_r = gates('Sigmoid')
        self.conv_q = gates('Tanh')

    def init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.orthogonal_(module.weight)

    def forward(self, h: Tensor, x: Tensor) -> Tensor:
        for conv_z, conv_r, conv_q in zip(self.conv_z, self.conv_r,
                                          self.conv_q):
            hx = torch.cat([h, x], dim=1)
            z = conv_z(hx)
            r = conv_r(hx)
            q = conv_q(torch.cat([r * h, x], dim=1))
            h = (1 - z) * h + z * q
        return h


class XHead(nn.Module):
    """3x3 conv + ReLU layers, then a prediction conv (3x3 flow, 1x1 mask).

    Args:
        in_channels (int): Input channels.
        feat_channels (int | Sequence[int]): Widths of the hidden layers.
        x_channels (int): Output channels.
        x (str): 'flow' or 'mask'.
    """

    def __init__(self,
                 in_channels: int,
                 feat_channels: Union[int, Sequence[int]],
                 x_channels: int,
                 x: str) -> None:
        super().__init__()
        if x not in ('flow', 'mask'):
            raise ValueError(f"x must be 'flow' or 'mask', but got {x}")
        if isinstance(feat_channels, int):
            feat_channels = [feat_channels]
        layers = []
        for channels in feat_channels:
            layers.append(
                ConvModule(in_channels, channels, kernel_size=3, padding=1))
            in_channels = channels
        self.layers = nn.Sequential(*layers)
        kernel = 3 if x == 'flow' else 1
        self.predict_layer = nn.Conv2d(
            in_channels, x_channels, kernel_size=kernel, padding=kernel // 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.predict_layer(self.layers(x))


# ---------------------------------------------------------------------------
# Decoder: iterative refinement and convex upsampling
# ---------------------------------------------------------------------------


@MODELS.register_module()
class RAFTDecoder(BaseModule):
    """Refines flow at 1/8 resolution by iterated updates; upsamples each one.

    Per iteration: look up the correlation pyramid at the current flow, encode
    the motion, update the GRU state, add the predicted flow change, and
    upsample to full resolution (convex combination of a 3x3 neighbourhood with
    learned weights for 'Basic', bilinear for 'Small').

    Args:
        net_type (str): 'Basic' (hidden 128, context 128) or 'Small' (96, 64).
        num_levels (int): Correlation pyramid levels.
        radius (int): Lookup radius.
        iters (int): Refinement iterations (training; RAFT's ``test_cfg`` may
            override it at test time).
        corr_op_cfg (dict): Lookup config; its ``radius`` is set to
            ``radius``; ``memory_efficient=True`` / ``'auto'`` computes the
            windows from features instead of the all-pairs volume (see
            :class:`CorrLookup`). Defaults to dict(type='CorrLookup',
            align_corners=True).
        gru_type (str): 'SeqConv' or 'Conv'. Defaults to 'SeqConv'.
        feat_channels (int | Sequence[int]): Hidden widths of the flow and mask
            heads. Defaults to 256.
        mask_channels (int): Square of the upsampling factor (64 for the 8x of
            RAFT); the mask head predicts ``9 * mask_channels`` weights.
            Defaults to 64.
        conv_cfg (dict, optional): Convolution config of the motion encoder.
        norm_cfg (dict, optional): Norm config of the motion encoder.
        act_cfg (dict, optional): Activation of the motion encoder; None means
            none (mmflow's default; its RAFT configs pass dict(type='ReLU')).
        flow_loss (dict, optional): Loss config, e.g. dict(type='SequenceLoss').
        cost_volume (dict): Cost-volume config, built with
            ``channels=in_channels``. Defaults to
            dict(type='DotProductCostVolume').
        in_channels (int): Channels of the encoder features; RAFT sets it from its
            encoder. Defaults to 256.
        init_cfg (dict | list, optional): Weight initialisation config.
    """

    _h_channels = {'Basic': 128, 'Small': 96}
    _cxt_channels = {'Basic': 128, 'Small': 64}

    def __init__(self,
                 net_type: str,
                 num_levels: int,
                 radius: int,
                 iters: int,
                 corr_op_cfg: dict = dict(
                     type='CorrLookup', align_corners=True),
                 gru_type: str = 'SeqConv',
                 feat_channels: Union[int, Sequence[int]] = 256,
                 mask_channels: int = 64,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 flow_loss: Optional[dict] = None,
                 cost_volume: dict = dict(type='DotProductCostVolume'),
                 in_channels: int = 256,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if net_type not in self._h_channels:
            raise KeyError(f'invalid net type {net_type} for RAFT')
        self.scale = math.isqrt(mask_channels)
        if self.scale**2 != mask_channels:
            raise ValueError('mask_channels must be a square (factor**2)')
        self.net_type = net_type
        self.num_levels = num_levels
        self.radius = radius
        self.iters = iters
        self.h_channels = self._h_channels[net_type]
        self.cxt_channels = self._cxt_channels[net_type]

        self.cost_volume = build_component(cost_volume, channels=in_channels)
        self.corr_block = CorrelationPyramid(num_levels)
        self.corr_lookup = build_component(dict(corr_op_cfg, radius=radius))
        self.encoder = MotionEncoder(num_levels, radius, net_type, conv_cfg,
                                     norm_cfg, act_cfg)
        self.gru = ConvGRU(self.h_channels,
                           self.encoder.out_channels + self.cxt_channels,
                           gru_type)
        self.flow_pred = XHead(self.h_channels, feat_channels, 2, x='flow')
        self.mask_pred = None
        if net_type == 'Basic':
            self.mask_pred = XHead(
                self.h_channels, feat_channels, 9 * mask_channels, x='mask')
        if flow_loss is not None:
            self.flow_loss = build_component(flow_loss)

    def forward(self,
                feat1: Tensor,
                feat2: Tensor,
                flow: Tensor,
                h: Tensor,
                cxt_feat: Tensor,
                iters: Optional[int] = None,
                final_only: bool = False) -> List[Tensor]:
        """Refine ``flow`` and return the upsampled flow of every iteration,
        or of the last one only.

        Args:
            feat1 (Tensor): Features of image 1, (B, C, H, W).
            feat2 (Tensor): Features of image 2, (B, C, H, W).
            flow (Tensor): Initial flow, (B, 2, H, W).
            h (Tensor): Initial GRU hidden state, (B, h_channels, H, W).
            cxt_feat (Tensor): Context features, (B, cxt_channels, H, W).
            iters (int, optional): Iterations; None uses ``self.iters``.
            final_only (bool): Upsample only the final flow (inference: the
                mask head and the upsampling then run once instead of at
                every iteration, 9% of RAFT's time at 368x496 with 12
                iterations).
                Defaults to False.

        Returns:
            List[Tensor]: (B, 2, scale*H, scale*W) flows, the final one last.
        """
        corr_pyramid = self.correlation(feat1, feat2)
        iters = self.iters if iters is None else iters
        flow_preds = []
        for i in range(iters):
            # Gradients flow through each update, not into the flow it refines.
            flow = flow.detach().float()
            with full_precision(flow):
                corr = self.corr_lookup(corr_pyramid, flow)
            motion = self.encoder(corr, flow)
            h = self.gru(h, torch.cat([cxt_feat, motion], dim=1))
            flow = flow + self.flow_pred(h)
            if final_only and i < iters - 1:
                continue
            # RAFT scales the mask logits to balance the heads' gradients.
            mask = None if self.mask_pred is None else .25 * self.mask_pred(h)
            flow_preds.append(self._upsample(flow, mask))
        return flow_preds

    def correlation(
            self, feat1: Tensor,
            feat2: Tensor) -> Union[List[Tensor], OnDemandPyramid]:
        """The pooled all-pairs volume, or the pooled features the lookup
        computes its windows from (``corr_op_cfg.memory_efficient``); fp32
        under autocast."""
        with full_precision(feat1):
            feat1, feat2 = feat1.float(), feat2.float()
            if self.corr_lookup.on_demand(feat1):
                feat1, feat2 = self.cost_volume.features(feat1, feat2)
                return OnDemandPyramid(feat1,
                                       self.corr_block.pool_levels(feat2))
            return self.corr_block(self.cost_volume.all_pairs(feat1, feat2))

    def _upsample(self, flow: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Full-resolution flow: each output pixel is a softmax-weighted mix of
        the 3x3 coarse flows around it, or bilinear without a mask."""
        with full_precision(flow):
            B, _, H, W = flow.shape
            s = self.scale
            flow = flow.float()
            if mask is None:
                return s * F.interpolate(
                    flow,
                    size=(s * H, s * W),
                    mode='bilinear',
                    align_corners=True)
            weights = torch.softmax(
                mask.float().view(B, 1, 9, s, s, H, W), dim=2)
            neighbours = F.unfold(
                s * flow, [3, 3], padding=1).view(B, 2, 9, 1, 1, H, W)
            up = torch.sum(weights * neighbours, dim=2)
            return up.permute(0, 1, 4, 2, 5, 3).reshape(B, 2, s * H, s * W)

    def losses(self,
               flow_preds: Sequence[Tensor],
               flow_gt: Tensor,
               valid: Optional[Tensor] = None) -> dict:
        return dict(loss_flow=self.flow_loss(flow_preds, flow_gt, valid))


# ---------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------


@MODELS.register_module()
class RAFT(FlowEstimator):
    """RAFT: features of both images, context of image 1, iterative decoding.

    Inputs are two images normalised ``(x - 127.5) / 127.5`` in BGR order (the
    default preprocessor, as mmflow's RAFT configs), stacked to (B, 6, H, W).

    Args:
        num_levels (int): Correlation pyramid levels; must equal the decoder's.
        radius (int): Lookup radius; must equal the decoder's.
        cxt_channels (int): Context channels; must equal the decoder's.
        h_channels (int): GRU hidden channels; must equal the decoder's, and
            ``h_channels + cxt_channels`` the context encoder's output.
        encoder (dict): Feature encoder config (RAFTEncoder, InstanceNorm).
        cxt_encoder (dict): Context encoder config (RAFTEncoder, (Sync)BN).
        decoder (dict): RAFTDecoder config; ``in_channels`` defaults to the
            feature encoder's output channels.
        freeze_bn (bool): Keep every BatchNorm in eval mode, also while training
            (running statistics frozen; affine weights still learn). Defaults
            to False.
        fp32_encoders (bool): Run the encoders in float32 under autocast, so
            that mixed precision covers the decoder only: their features
            feed the float32 correlation, and bf16 rounding through their
            depth moved a RAFT-S's full-size Middlebury EPE by +0.070 px
            (-0.013 px with them in float32). They are 28% of RAFT's FLOPs
            at 368x496 with 12 iterations, 6% of RAFT-S's. Defaults to True.
        train_cfg (dict, optional): Unused by RAFT. Defaults to None.
        test_cfg (dict, optional): ``iters`` overrides the decoder's iterations
            in 'predict' and 'tensor' modes. Defaults to None.
        data_preprocessor (dict | nn.Module, optional): Defaults to
            FlowDataPreprocessor(mean=127.5, std=127.5, bgr_to_rgb=False).
        init_cfg (dict | list, optional): Weight initialisation config.
    """

    default_data_preprocessor = dict(
        type='FlowDataPreprocessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        bgr_to_rgb=False)

    def __init__(self,
                 num_levels: int,
                 radius: int,
                 cxt_channels: int,
                 h_channels: int,
                 encoder: dict,
                 cxt_encoder: dict,
                 decoder: dict,
                 freeze_bn: bool = False,
                 fp32_encoders: bool = True,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(data_preprocessor, train_cfg, test_cfg, init_cfg)
        # Built in mmflow's order, which fixes the order of the parameters (and
        # so of the optimizer states of mmflow checkpoints).
        self.encoder = build_component(encoder)
        self.decoder = build_component(
            decoder, in_channels=self.encoder.out_channels)
        self.context = build_component(cxt_encoder)
        self.num_levels = num_levels
        self.radius = radius
        self.h_channels = h_channels
        self.cxt_channels = cxt_channels
        expected = (num_levels, radius, h_channels, cxt_channels)
        found = (self.decoder.num_levels, self.decoder.radius,
                 self.decoder.h_channels, self.decoder.cxt_channels)
        if expected != found:
            raise ValueError(f'(num_levels, radius, h_channels, cxt_channels) '
                             f'{expected} differ from the decoder\'s {found}')
        if h_channels + cxt_channels != self.context.out_channels:
            raise ValueError(
                'h_channels + cxt_channels must equal the context '
                'encoder\'s out_channels')
        self.freeze_bn = freeze_bn
        self.fp32_encoders = fp32_encoders
        self.train(self.training)

    def train(self, mode: bool = True) -> 'RAFT':
        super().train(mode)
        if self.freeze_bn:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def extract_feat(self,
                     imgs: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Features of both images, GRU initial state and context of image 1."""
        img1, img2 = torch.split(imgs, self.encoder.in_channels, dim=1)
        with full_precision(imgs) if self.fp32_encoders else nullcontext():
            feat1 = self.encoder(img1)
            feat2 = self.encoder(img2)
            h_feat, cxt_feat = torch.split(
                self.context(img1), [self.h_channels, self.cxt_channels],
                dim=1)
        return feat1, feat2, torch.tanh(h_feat), torch.relu(cxt_feat)

    def estimate(self, imgs: Tensor, test_mode: bool) -> List[Tensor]:
        iters = None
        if test_mode and self.test_cfg:
            iters = self.test_cfg.get('iters')
        feat1, feat2, h_feat, cxt_feat = self.extract_feat(imgs)
        B, _, H, W = feat1.shape
        flow = feat1.new_zeros((B, 2, H, W))
        return self.decoder(
            feat1, feat2, flow, h_feat, cxt_feat, iters=iters,
            final_only=test_mode)

    def flow_loss(self, flow_preds: List[Tensor], flow_gt: Tensor,
                  valid: Tensor) -> dict:
        return self.decoder.losses(flow_preds, flow_gt, valid)
