"""PWC-Net (Sun et al., CVPR 2018) as mmflow 0.5.2 defines it, in pure PyTorch.

The parts follow the paper's figure from input to output: a shared feature
:class:`PWCNetEncoder` builds a six-level pyramid for each image; from the coarsest
level down, the :class:`PWCNetDecoder` warps image 2's features by the upsampled flow
(:class:`Warp`), correlates them with image 1's features in a local cost volume,
and lets a densely connected :class:`PWCModule` estimate the flow of that level;
a dilated :class:`ContextNet` refines the finest flow. :class:`PWCNet` ties them to
mmext's :class:`FlowEstimator` interface.

Type names, constructor arguments and state-dict names are mmflow's, so the model
dicts of mmflow's PWC-Net configs build unchanged and its model-zoo checkpoints load
by name. The one change: mmflow's CUDA-only ``Correlation`` op is replaced by the
``local()`` method of a cost-volume component, chosen by the decoder's
``cost_volume`` key (one module per level, sized by that level's channels).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmext.registry import MODELS
from ..structures import FlowDataSample
from .base import FlowEstimator, InputPadder, build_component

__all__ = [
    'PWCNet', 'PWCNetEncoder', 'PWCNetDecoder', 'PWCModule', 'ContextNet',
    'Warp', 'BasicConvBlock', 'DenseLayer', 'BasicDenseBlock'
]

_LEAKY_RELU = dict(type='LeakyReLU', negative_slope=0.1)


def _level_index(level: str) -> int:
    """The pyramid index of a level name: ``'level6'`` -> 6."""
    return int(level[len('level'):])


# --------------------------------------------------------------------------- #
# Feature pyramid
# --------------------------------------------------------------------------- #
class BasicConvBlock(BaseModule):
    """A stack of plain convolutions, the first of which may downsample.

    Args:
        in_channels (int): Number of input channels.
        out_channels (int | Sequence[int]): Output channels, shared by all
            convolutions or given per convolution.
        num_convs (int): Number of convolutions. Defaults to 3.
        stride (int): Stride of the first convolution. Defaults to 2.
        dilation (int): Dilation of every convolution but the first.
            Defaults to 1.
        kernel_size (int | Sequence[int]): Kernel size, shared or per
            convolution. Defaults to 3.
        conv_cfg (dict, optional): Convolution layer config. Defaults to None.
        norm_cfg (dict, optional): Normalisation layer config. Defaults to None.
        act_cfg (dict, optional): Activation layer config. Defaults to None.
        init_cfg (dict | list, optional): Weight initialisation.
            Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: Union[int, Sequence[int]],
                 num_convs: int = 3,
                 stride: int = 2,
                 dilation: int = 1,
                 kernel_size: Union[int, Sequence[int]] = 3,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        convs = []
        for i in range(num_convs):
            k = kernel_size[i] if isinstance(kernel_size,
                                             (tuple, list)) else kernel_size
            out = out_channels[i] if isinstance(out_channels,
                                                (tuple, list)) else out_channels
            convs.append(
                ConvModule(
                    in_channels,
                    out,
                    kernel_size=k,
                    stride=stride if i == 0 else 1,
                    dilation=1 if i == 0 else dilation,
                    # mmflow pads later convolutions by the dilation alone,
                    # which keeps the size only for 3x3 kernels; kept for parity.
                    padding=k // 2 if i == 0 else dilation,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg))
            in_channels = out
        self.layers = nn.Sequential(*convs)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the convolutions."""
        return self.layers(x)


@MODELS.register_module()
class PWCNetEncoder(BaseModule):
    """PWC-Net's feature pyramid: one :class:`BasicConvBlock` per level.

    Both images go through the same encoder; the decoder reads the levels named in
    ``pyramid_levels`` (keys ``'level1'`` ... ``'level6'``, level i after i blocks).

    Args:
        in_channels (int): Channels of one image.
        pyramid_levels (Sequence[str]): Levels to return.
        net_type (str): ``'Basic'`` (3 convolutions per level) or ``'Small'`` (2).
            Defaults to ``'Basic'``.
        out_channels (Sequence[int]): Channels per level.
            Defaults to (16, 32, 64, 96, 128, 196).
        strides (Sequence[int]): Stride of each level's first convolution.
            Defaults to (2, 2, 2, 2, 2, 2).
        dilations (Sequence[int]): Dilation of each level's later convolutions.
            Defaults to (1, 1, 1, 1, 1, 1).
        conv_cfg (dict, optional): Convolution layer config. Defaults to None.
        norm_cfg (dict, optional): Normalisation layer config. Defaults to None.
        act_cfg (dict): Activation config.
            Defaults to ``dict(type='LeakyReLU', negative_slope=0.1)``.
        init_cfg (dict | list, optional): Weight initialisation.
            Defaults to None.
    """

    _arch_settings = {'Basic': (3, 3, 3, 3, 3, 3), 'Small': (2, 2, 2, 2, 2, 2)}

    def __init__(self,
                 in_channels: int,
                 pyramid_levels: Sequence[str],
                 net_type: str = 'Basic',
                 out_channels: Sequence[int] = (16, 32, 64, 96, 128, 196),
                 strides: Sequence[int] = (2, 2, 2, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1, 1, 1),
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: dict = _LEAKY_RELU,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if net_type not in self._arch_settings:
            raise KeyError(f'invalid net type {net_type} for PWC-Net')
        num_convs = self._arch_settings[net_type]
        if not (len(out_channels) == len(num_convs) == len(strides) ==
                len(dilations) == len(pyramid_levels)):
            raise ValueError('out_channels, strides, dilations and '
                             'pyramid_levels need one entry per level (6)')
        self.in_channels = in_channels
        self.pyramid_levels = list(pyramid_levels)
        self.out_channels = out_channels
        self.strides = strides
        self.dilations = dilations

        blocks = []
        for out, n, stride, dilation in zip(out_channels, num_convs, strides,
                                            dilations):
            blocks.append(
                BasicConvBlock(
                    in_channels,
                    out,
                    num_convs=n,
                    stride=stride,
                    dilation=dilation,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg))
            in_channels = out[-1] if isinstance(out, (tuple, list)) else out
        self.layers = nn.Sequential(*blocks)

    def level_channels(self) -> Dict[str, int]:
        """Channels of the feature map at each returned level."""
        channels = {}
        for i, out in enumerate(self.out_channels):
            level = f'level{i + 1}'
            if level in self.pyramid_levels:
                channels[level] = out[-1] if isinstance(out,
                                                        (tuple, list)) else out
        return channels

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        """Features of one image, keyed by level.

        Args:
            x (Tensor): Image, (B, in_channels, H, W).

        Returns:
            Dict[str, Tensor]: The requested levels of the pyramid.
        """
        outs = {}
        for i, block in enumerate(self.layers):
            x = block(x)
            if f'level{i + 1}' in self.pyramid_levels:
                outs[f'level{i + 1}'] = x
        return outs


# --------------------------------------------------------------------------- #
# Warping
# --------------------------------------------------------------------------- #
@MODELS.register_module()
class Warp(nn.Module):
    """Backward warping: samples ``feat`` at ``x + flow(x)``.

    Sampling positions are normalised to [-1, 1] by (W - 1) and (H - 1) whatever
    ``align_corners`` is, exactly as mmflow does, so that pretrained weights see
    the same warped features.

    Args:
        mode (str): ``grid_sample`` interpolation mode. Defaults to 'bilinear'.
        padding_mode (str): ``grid_sample`` padding mode. Defaults to 'zeros'.
        align_corners (bool): ``grid_sample``'s align_corners. Defaults to False.
        use_mask (bool): Zero the output wherever the sample was not fully inside
            the map (bilinear weight of in-bounds pixels below 0.9999), so that
            zero padding does not pose as a weak match. Defaults to True.
    """

    def __init__(self,
                 mode: str = 'bilinear',
                 padding_mode: str = 'zeros',
                 align_corners: bool = False,
                 use_mask: bool = True) -> None:
        super().__init__()
        self.mode = mode
        self.padding_mode = padding_mode
        self.align_corners = align_corners
        self.use_mask = use_mask

    def forward(self, feat: Tensor, flow: Tensor) -> Tensor:
        """Warp ``feat`` (B, C, H, W) by ``flow`` (B, 2, H, W), in pixels."""
        B, _, H, W = flow.shape
        ys, xs = torch.meshgrid(
            torch.arange(H, device=flow.device, dtype=flow.dtype),
            torch.arange(W, device=flow.device, dtype=flow.dtype),
            indexing='ij')
        x = (xs + flow[:, 0]) * 2. / max(W - 1, 1) - 1.
        y = (ys + flow[:, 1]) * 2. / max(H - 1, 1) - 1.
        grid = torch.stack((x, y), dim=-1)
        out = F.grid_sample(
            feat,
            grid,
            mode=self.mode,
            padding_mode=self.padding_mode,
            align_corners=self.align_corners)
        if self.use_mask:
            # One channel suffices: the mask is the same for every channel.
            ones = feat.new_ones((B, 1) + feat.shape[2:])
            mask = F.grid_sample(
                ones,
                grid,
                mode=self.mode,
                padding_mode=self.padding_mode,
                align_corners=self.align_corners)
            out = out * (mask > 0.9999).to(out)
        return out

    def extra_repr(self) -> str:
        return (f'mode={self.mode}, padding_mode={self.padding_mode}, '
                f'align_corners={self.align_corners}, use_mask={self.use_mask}')


# --------------------------------------------------------------------------- #
# Flow estimation per level
# --------------------------------------------------------------------------- #
class DenseLayer(BaseModule):
    """A 3x3 convolution whose output is stacked in front of its input.

    Args:
        in_channels (int): Number of input channels.
        feat_channels (int): Channels the convolution adds.
        conv_cfg (dict, optional): Convolution layer config. Defaults to None.
        norm_cfg (dict, optional): Normalisation layer config. Defaults to None.
        act_cfg (dict): Activation config.
            Defaults to ``dict(type='LeakyReLU', negative_slope=0.1)``.
        init_cfg (dict | list, optional): Weight initialisation.
            Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 feat_channels: int,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: dict = _LEAKY_RELU,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.layers = ConvModule(
            in_channels,
            feat_channels,
            kernel_size=3,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """Return ``cat(conv(x), x)``."""
        return torch.cat((self.layers(x), x), dim=1)


class BasicDenseBlock(BaseModule):
    """DenseNet-style stack of :class:`DenseLayer`; channels only ever grow.

    Args:
        in_channels (int): Number of input channels.
        feat_channels (Sequence[int]): Channels each layer adds.
            Defaults to (128, 128, 96, 64, 32).
        conv_cfg (dict, optional): Convolution layer config. Defaults to None.
        norm_cfg (dict, optional): Normalisation layer config. Defaults to None.
        act_cfg (dict, optional): Activation config. Defaults to None.
        init_cfg (dict | list, optional): Weight initialisation.
            Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 feat_channels: Sequence[int] = (128, 128, 96, 64, 32),
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        layers = []
        for channels in feat_channels:
            layers.append(
                DenseLayer(in_channels, channels, conv_cfg, norm_cfg, act_cfg))
            in_channels += channels
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the dense layers."""
        return self.layers(x)


class PWCModule(BaseModule):
    """The flow estimator of one pyramid level.

    A dense block reads the level's input (cost volume, and below the top level
    also image 1's features, the upsampled flow and upsampled features), a 3x3
    convolution predicts the flow, and two transposed convolutions upsample the flow
    and the dense features for the next finer level.

    Args:
        in_channels (int): Channels of the level's input.
        up_flow (bool): Whether to produce the upsampled flow and features (False
            at the finest level). Defaults to True.
        densefeat_channels (Sequence[int]): Channels each dense layer adds.
            Defaults to (128, 128, 96, 64, 32).
        conv_cfg (dict, optional): Convolution layer config. Defaults to None.
        norm_cfg (dict, optional): Normalisation layer config. Defaults to None.
        act_cfg (dict): Activation config.
            Defaults to ``dict(type='LeakyReLU', negative_slope=0.1)``.
        init_cfg (dict | list, optional): Weight initialisation.
            Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 up_flow: bool = True,
                 densefeat_channels: Sequence[int] = (128, 128, 96, 64, 32),
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: dict = _LEAKY_RELU,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.up_flow = up_flow
        self.dense_net = BasicDenseBlock(in_channels, densefeat_channels,
                                         conv_cfg, norm_cfg, act_cfg)
        self.last_channels = in_channels + sum(densefeat_channels)
        self.predict_layer = nn.Conv2d(
            self.last_channels, 2, kernel_size=3, padding=1)
        if up_flow:
            self.upflow_layer = nn.ConvTranspose2d(
                2, 2, kernel_size=4, stride=2, padding=1)
            self.upfeat_layer = nn.ConvTranspose2d(
                self.last_channels, 2, kernel_size=4, stride=2, padding=1)

    def forward(
        self, x: Tensor
    ) -> Tuple[Tensor, Tensor, Optional[Tensor], Optional[Tensor]]:
        """Estimate this level's flow.

        Args:
            x (Tensor): The level's input.

        Returns:
            tuple: flow, dense features, upsampled flow and upsampled features
            (the last two None when ``up_flow`` is False).
        """
        feat = self.dense_net(x)
        flow = self.predict_layer(feat)
        if not self.up_flow:
            return flow, feat, None, None
        return flow, feat, self.upflow_layer(flow), self.upfeat_layer(feat)


@MODELS.register_module()
class ContextNet(BaseModule):
    """Dilated convolutions that refine the finest flow from the decoder features.

    Growing dilations (1, 2, 4, 8, 16) give a large receptive field cheaply; the
    output is a residual added to the finest level's flow.

    Args:
        in_channels (int): Channels of the finest level's dense features.
        out_channels (int): Output channels. Defaults to 2.
        feat_channels (Sequence[int]): Channels of the hidden convolutions.
            Defaults to (128, 128, 128, 96, 64, 32).
        dilations (Sequence[int]): Dilation of each hidden convolution.
            Defaults to (1, 2, 4, 8, 16, 1).
        conv_cfg (dict, optional): Convolution layer config. Defaults to None.
        norm_cfg (dict, optional): Normalisation layer config. Defaults to None.
        act_cfg (dict): Activation config.
            Defaults to ``dict(type='LeakyReLU', negative_slope=0.1)``.
        init_cfg (dict | list, optional): Weight initialisation.
            Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 2,
                 feat_channels: Sequence[int] = (128, 128, 128, 96, 64, 32),
                 dilations: Sequence[int] = (1, 2, 4, 8, 16, 1),
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: dict = _LEAKY_RELU,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(in_channels, int):
            raise TypeError(f'in_channels must be an int, got {in_channels!r}')
        layers = []
        for channels, dilation in zip(feat_channels, dilations):
            layers.append(
                ConvModule(
                    in_channels,
                    channels,
                    kernel_size=3,
                    dilation=dilation,
                    padding=dilation,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg))
            in_channels = channels
        layers.append(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        self.out_channels = out_channels
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Return the flow residual."""
        return self.layers(x)


# --------------------------------------------------------------------------- #
# Coarse-to-fine decoder
# --------------------------------------------------------------------------- #
@MODELS.register_module()
class PWCNetDecoder(BaseModule):
    """Coarse-to-fine flow decoder of PWC-Net.

    For each level from the coarsest: warp image 2's features by the upsampled flow
    of the level above, build the local cost volume (range ``max_displacement``)
    and apply the activation, then let that level's :class:`PWCModule` predict the
    flow. Flows are in units of ``flow / flow_div`` at every level (they are not
    rescaled with the level's resolution), so warping at level l multiplies them by
    ``flow_div / 2**l`` to get that level's pixels.

    Args:
        in_channels (Dict[str, int]): Input channels of each level's
            :class:`PWCModule`; its keys choose the decoded levels.
        densefeat_channels (Sequence[int]): Channels each dense layer adds.
            Defaults to (128, 128, 96, 64, 32).
        flow_div (float): Scale between predicted units and pixels.
            Defaults to 20.
        corr_cfg (dict): mmflow's correlation config. Only ``max_displacement``
            is used (the computation is the cost volume's); the other keys of
            mmcv's ``Correlation`` must keep the values PWC-Net uses
            (kernel_size=1, stride=1, padding=0, dilation=1, dilation_patch=1).
            Defaults to ``dict(type='Correlation', max_displacement=4)``.
        scaled (bool): Divide the cost volume by the number of channels.
            Defaults to False.
        warp_cfg (dict, optional): Config of :class:`Warp`; None disables
            warping. Defaults to ``dict(type='Warp', align_corners=True)``.
        conv_cfg (dict, optional): Convolution layer config. Defaults to None.
        norm_cfg (dict, optional): Normalisation layer config. Defaults to None.
        act_cfg (dict): Activation config, also applied to the cost volume.
            Defaults to ``dict(type='LeakyReLU', negative_slope=0.1)``.
        post_processor (dict, optional): Config of the refinement network
            (:class:`ContextNet`). Defaults to None.
        flow_loss (dict, optional): Config of the loss (:class:`MultiLevelEPE`).
            Defaults to None.
        cost_volume (dict): Config of the cost volume; one module is built per
            level with ``channels`` set to that level's feature channels, so a
            learnable cost volume only needs this key changed.
            Defaults to ``dict(type='DotProductCostVolume')``.
        feat_channels (Dict[str, int], optional): Feature channels of each decoded
            level. :class:`PWCNet` fills it in from its encoder; required when the
            decoder is built on its own. Defaults to None.
        init_cfg (dict | list, optional): Weight initialisation.
            Defaults to None.
    """

    _corr_defaults = dict(
        kernel_size=1, stride=1, padding=0, dilation=1, dilation_patch=1)

    def __init__(self,
                 in_channels: Dict[str, int],
                 densefeat_channels: Sequence[int] = (128, 128, 96, 64, 32),
                 flow_div: float = 20.,
                 corr_cfg: dict = dict(type='Correlation', max_displacement=4),
                 scaled: bool = False,
                 warp_cfg: Optional[dict] = dict(
                     type='Warp', align_corners=True),
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: dict = _LEAKY_RELU,
                 post_processor: Optional[dict] = None,
                 flow_loss: Optional[dict] = None,
                 cost_volume: dict = dict(type='DotProductCostVolume'),
                 feat_channels: Optional[Dict[str, int]] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(in_channels, dict):
            raise TypeError('in_channels must be a dict of level -> channels')
        for key, expected in self._corr_defaults.items():
            if corr_cfg.get(key, expected) != expected:
                raise NotImplementedError(
                    f'corr_cfg {key}={corr_cfg[key]} is not supported: the '
                    f'local cost volume implements {key}={expected} only')
        self.in_channels = in_channels
        self.densefeat_channels = densefeat_channels
        self.flow_div = flow_div
        self.corr_cfg = corr_cfg
        self.max_displacement = corr_cfg.get('max_displacement', 1)
        self.scaled = scaled
        self.warp_cfg = warp_cfg

        # Sorting names puts the finest level first (mmflow's order; level1-9).
        self.flow_levels = sorted(in_channels)
        self.start_level = self.flow_levels[-1]
        self.end_level = self.flow_levels[0]
        self.multiplier = {
            level: flow_div * 2**(-_level_index(level))
            for level in self.flow_levels
        }

        if feat_channels is None:
            raise ValueError('PWCNetDecoder needs feat_channels (the feature '
                             'channels of each level); PWCNet sets it from '
                             'its encoder')
        missing = set(self.flow_levels) - set(feat_channels)
        if missing:
            raise KeyError(f'feat_channels lacks levels {sorted(missing)}')
        self.feat_channels = {level: feat_channels[level]
                              for level in self.flow_levels}

        # Submodules are created in mmflow's order so that state_dict() lists
        # the keys as mmflow's checkpoints do.
        self.flow_loss = (
            build_component(flow_loss) if flow_loss is not None else None)
        self.cost_volumes = nn.ModuleDict({
            level: build_component(cost_volume, channels=channels)
            for level, channels in self.feat_channels.items()
        })
        self.corr_act = build_activation_layer(act_cfg)
        self.warp = build_component(warp_cfg) if warp_cfg is not None else None
        self.post_processor = (
            build_component(post_processor)
            if post_processor is not None else None)
        self.decoders = nn.ModuleDict({
            level: PWCModule(
                in_channels[level],
                up_flow=level != self.end_level,
                densefeat_channels=densefeat_channels,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
            for level in self.flow_levels
        })

    def correlate(self, level: str, feat1: Tensor, feat2: Tensor) -> Tensor:
        """Activated local cost volume of one level, (B, (2d+1)^2, H, W)."""
        corr = self.cost_volumes[level].local(feat1, feat2,
                                              self.max_displacement)
        if self.scaled:
            corr = corr / feat1.shape[1]
        return self.corr_act(corr)

    def forward(self, feat1: Dict[str, Tensor],
                feat2: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Decode the flow pyramid.

        Args:
            feat1 (Dict[str, Tensor]): Feature pyramid of image 1.
            feat2 (Dict[str, Tensor]): Feature pyramid of image 2.

        Returns:
            Dict[str, Tensor]: Flow of each level, (B, 2, H_l, W_l), in units of
            ``flow / flow_div``; the finest level includes the context
            refinement.
        """
        flow_pred = {}
        upflow = upfeat = feat = None
        for level in self.flow_levels[::-1]:
            f1, f2 = feat1[level], feat2[level]
            if level == self.start_level:
                x = self.correlate(level, f1, f2)
            else:
                if self.warp is not None:
                    f2 = self.warp(f2, upflow * self.multiplier[level])
                x = torch.cat(
                    (self.correlate(level, f1, f2), f1, upflow, upfeat), dim=1)
            flow, feat, upflow, upfeat = self.decoders[level](x)
            flow_pred[level] = flow
        if self.post_processor is not None:
            flow_pred[self.end_level] = (
                flow_pred[self.end_level] + self.post_processor(feat))
        return flow_pred

    def losses(self, flow_pred: Dict[str, Tensor], flow_gt: Tensor,
               valid: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Loss of a decoded pyramid.

        Args:
            flow_pred (Dict[str, Tensor]): Output of :meth:`forward`.
            flow_gt (Tensor): Ground truth in pixels, (B, 2, H, W).
            valid (Tensor, optional): Validity, (B, H, W).

        Returns:
            Dict[str, Tensor]: ``{'loss_flow': loss}``.
        """
        if self.flow_loss is None:
            raise RuntimeError('PWCNetDecoder was built without flow_loss')
        return dict(loss_flow=self.flow_loss(flow_pred, flow_gt, valid))

    def predict(self, feat1: Dict[str, Tensor], feat2: Dict[str, Tensor],
                size: Tuple[int, int]) -> Tensor:
        """Full-resolution flow in pixels.

        The finest flow is bilinearly resized to ``size`` and multiplied by
        ``flow_div``; no resolution factor is needed because the predicted units
        are full-resolution pixels divided by ``flow_div`` at every level.

        Args:
            feat1 (Dict[str, Tensor]): Feature pyramid of image 1.
            feat2 (Dict[str, Tensor]): Feature pyramid of image 2.
            size (Tuple[int, int]): Output (H, W).

        Returns:
            Tensor: Flow, (B, 2, H, W).
        """
        flow = self(feat1, feat2)[self.end_level]
        flow = F.interpolate(
            flow, size=tuple(size), mode='bilinear', align_corners=False)
        return flow * self.flow_div


# --------------------------------------------------------------------------- #
# Estimator
# --------------------------------------------------------------------------- #
@MODELS.register_module()
class PWCNet(FlowEstimator):
    """PWC-Net: pyramid, warping and cost volume.

    Inputs are padded (replicating the border) to a multiple of the encoder's
    total stride down to the coarsest decoded level (64 for the standard
    six-level pyramid) so that every upsampled flow matches the next level's size;
    mmflow instead resized test images to multiples of 64. The default data
    preprocessor is mmflow's PWC-Net normalisation: BGR images divided by 255.

    Training scores the pyramid of coarse flows (:class:`MultiLevelEPE`), not one
    full-resolution flow, so :meth:`loss` pads the ground truth to the padded
    input size (replicated flow, padded pixels invalid) instead of cropping flows.

    Args:
        encoder (dict): Config of the encoder (:class:`PWCNetEncoder`).
        decoder (dict): Config of the decoder (:class:`PWCNetDecoder`); its
            ``feat_channels`` defaults to the encoder's channels per level.
        data_preprocessor (dict | nn.Module, optional): The data preprocessor.
            Defaults to None (``default_data_preprocessor``).
        train_cfg (dict, optional): Training settings. Defaults to None.
        test_cfg (dict, optional): Test settings. Defaults to None.
        init_cfg (dict | list, optional): Weight initialisation.
            Defaults to None.
    """

    default_data_preprocessor = dict(
        type='FlowDataPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=False)

    def __init__(self,
                 encoder: dict,
                 decoder: dict,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            init_cfg=init_cfg)
        self.encoder = build_component(encoder)
        self.decoder = build_component(
            decoder, feat_channels=self.encoder.level_channels())
        coarsest = _level_index(self.decoder.start_level)
        divisor = 1
        for stride in self.encoder.strides[:coarsest]:
            divisor *= stride
        self.size_divisor = divisor

    def extract_feat(
            self, imgs: Tensor) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Feature pyramids of both images of (B, 2 * in_channels, H, W) pairs."""
        in_channels = self.encoder.in_channels
        return (self.encoder(imgs[:, :in_channels]),
                self.encoder(imgs[:, in_channels:]))

    def estimate(self, imgs: Tensor, test_mode: bool) -> List[Tensor]:
        """The full-resolution flow of padded pairs, as a one-element list."""
        feat1, feat2 = self.extract_feat(imgs)
        return [self.decoder.predict(feat1, feat2, imgs.shape[-2:])]

    def flow_loss(self, flow_preds: Dict[str, Tensor], flow_gt: Tensor,
                  valid: Tensor) -> Dict[str, Tensor]:
        """Loss of the flow pyramid.

        Args:
            flow_preds (Dict[str, Tensor]): The decoder's pyramid at the padded
                size (PWC-Net's training output, unlike the base's flow list).
            flow_gt (Tensor): Ground truth padded like the inputs, (B, 2, H, W).
            valid (Tensor): Validity padded with zeros, (B, H, W).
        """
        return self.decoder.losses(flow_preds, flow_gt, valid)

    def loss(self, inputs: Tensor,
             data_samples: Sequence[FlowDataSample]) -> Dict[str, Tensor]:
        """Losses of a batch against its data samples' ground truth."""
        flow_gt, valid = self._ground_truth(data_samples)
        padder = InputPadder(inputs.shape[-2:], self.size_divisor)
        feat1, feat2 = self.extract_feat(padder.pad(inputs))
        pad = (padder.left, padder.right, padder.top, padder.bottom)
        return self.flow_loss(
            self.decoder(feat1, feat2), padder.pad(flow_gt), F.pad(valid, pad))
