"""The FlowNAS encoder and its search space (FlowNAS, Lin et al. 2022).

FlowNAS replaces RAFT's feature and context encoders by a MobileNet-style
network and searches its per-stage shape. Read top to bottom as the paper's
figure of the encoder:

1. a 7x7 stride-2 stem to 64 channels (norm, ReLU);
2. six stages of inverted-residual blocks (strides 1, 1, 2, 1, 2, 1 in their
   first block; ReLU; no squeeze-excitation), each stage with its own width,
   depth, depthwise kernel size and expansion ratio;
3. a 1x1 projection to the output channels (256 for features, h + c for the
   context), at 1/8 of the input resolution.

:class:`FlowNASEncoder` is one fixed architecture (what a search exports and
what the published FlowNAS-RAFT-S/-K are). :class:`SearchableFlowNASEncoder` is
the weight-sharing supernet over :data:`FLOWNAS_SEARCH_SPACE`, built from
mmrazor's dynamic ops (``BigNasConv2d``, ``DynamicBatchNorm2d``,
``DynamicSequential``) and one-shot mutables. Both use the same block and the
same module names, so a subnet's weights, sliced by mmrazor, load into the
fixed encoder by name.
"""
import copy
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmcv.cnn import (ConvModule, build_activation_layer, build_conv_layer,
                      build_norm_layer)
from mmengine.model import BaseModule, Sequential
from mmrazor.models.architectures.dynamic_ops import (BigNasConv2d,
                                                      DynamicBatchNorm2d,
                                                      DynamicChannelMixin,
                                                      DynamicSequential,
                                                      DynamicSyncBatchNorm)
from mmrazor.models.architectures.utils.mutable_register import \
    mutate_conv_module
from mmrazor.models.mutables import (MutableChannelContainer,
                                     OneShotMutableChannel,
                                     OneShotMutableChannelUnit,
                                     OneShotMutableValue)
from mmrazor.registry import MODELS as RAZOR_MODELS
from mmrazor.utils import IndexDict
from torch import Tensor, nn

from mmext.registry import MODELS

__all__ = [
    'ARCH_KEYS', 'CHOICE_ALIASES', 'FLOWNAS_SEARCH_SPACE', 'FLOWNAS_STRIDES',
    'InvertedResidual',
    'FlowNASEncoder', 'DynamicInstanceNorm2d', 'SearchableInvertedResidual',
    'SearchableFlowNASEncoder'
]

#: The per-stage choices of an architecture, in the order of the paper's table.
ARCH_KEYS = ('widths', 'depths', 'kernel_sizes', 'expand_ratios')

#: The search space of the paper: per stage, the candidate widths, depths,
#: depthwise kernel sizes and expansion ratios.
FLOWNAS_SEARCH_SPACE = dict(
    widths=[[56, 64], [64, 72], [88, 96], [96, 104, 112], [112, 120, 128],
            [128, 136]],
    depths=[[1, 2], [1, 2, 3], [1, 2, 3], [1, 2, 3], [2, 3, 4], [1, 2]],
    kernel_sizes=[[3, 5]] * 6,
    expand_ratios=[[1], [1, 2, 4], [4, 5, 6], [4, 5, 6], [6], [6]])

#: Stride of the first block of each stage: 1/2 (stem), then 1/4, 1/8.
FLOWNAS_STRIDES = (1, 1, 2, 1, 2, 1)

#: The alias suffix of each per-stage choice's mutable (``stage3.width``).
CHOICE_ALIASES = dict(
    widths='width',
    depths='depth',
    kernel_sizes='kernel_size',
    expand_ratios='expand_ratio')

# ---------------------------------------------------------------------------
# A fixed architecture
# ---------------------------------------------------------------------------


class InvertedResidual(BaseModule):
    """An inverted-residual (MBConv) block with an always-present shortcut.

    ``out = linear(depthwise(expand(x))) + shortcut(x)``: a 1x1 expansion to
    ``expand_ratio * in_channels`` (none at ratio 1), a ``kernel_size``
    depthwise convolution carrying the stride, and a 1x1 linear projection
    (norm, no activation). As in AttentiveNAS, on which FlowNAS builds, the
    shortcut is added in every block: average pooling where the block is
    strided and a 1x1 convolution where the widths differ.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Depthwise kernel size (odd).
        expand_ratio (int): Expansion ratio of the hidden width.
        stride (int): Stride of the depthwise convolution. Defaults to 1.
        conv_cfg (dict, optional): Convolution config. Defaults to None.
        norm_cfg (dict): Norm config. Defaults to dict(type='BN').
        act_cfg (dict): Activation config. Defaults to dict(type='ReLU').
        init_cfg (dict | list, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 expand_ratio: int,
                 stride: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        mid_channels = in_channels * expand_ratio
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.expand_conv = None
        if expand_ratio != 1:
            self.expand_conv = ConvModule(
                in_channels, mid_channels, 1, act_cfg=act_cfg, **cfgs)
        self.depthwise_conv = ConvModule(
            mid_channels,
            mid_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=mid_channels,
            act_cfg=act_cfg,
            **cfgs)
        self.linear_conv = ConvModule(
            mid_channels, out_channels, 1, act_cfg=None, **cfgs)
        self.stride = stride
        self.shortcut_conv = None
        if in_channels != out_channels:
            self.shortcut_conv = build_conv_layer(
                conv_cfg, in_channels, out_channels, 1, bias=False)

    def expands(self) -> bool:
        """Whether the expansion convolution runs."""
        return self.expand_conv is not None

    def projects(self) -> bool:
        """Whether the shortcut changes the width."""
        return self.shortcut_conv is not None

    def forward(self, x: Tensor) -> Tensor:
        out = self.expand_conv(x) if self.expands() else x
        out = self.linear_conv(self.depthwise_conv(out))
        shortcut = x
        if self.stride > 1:
            # ceil_mode matches the padded strided convolution on odd sizes.
            shortcut = F.avg_pool2d(
                shortcut, self.stride, ceil_mode=True, count_include_pad=False)
        if self.projects():
            shortcut = self.shortcut_conv(shortcut)
        return out + shortcut


@MODELS.register_module()
class FlowNASEncoder(BaseModule):
    """A FlowNAS encoder of one fixed architecture (a RAFT encoder).

    Stem (7x7, stride 2), six stages of :class:`InvertedResidual` blocks, a
    1x1 projection; the output is at 1/8 resolution. Use it as RAFT's
    ``encoder`` (InstanceNorm) and ``cxt_encoder`` (BatchNorm) with the same
    architecture.

    Args:
        in_channels (int): Input channels (3 for one image).
        out_channels (int): Output channels.
        widths (Sequence[int]): Output width of each stage.
        depths (Sequence[int]): Number of blocks of each stage.
        kernel_sizes (Sequence[int]): Depthwise kernel size of each stage.
        expand_ratios (Sequence[int]): Expansion ratio of each stage.
        strides (Sequence[int]): Stride of the first block of each stage.
            Defaults to (1, 1, 2, 1, 2, 1).
        stem_channels (int): Stem width. Defaults to 64.
        conv_cfg (dict, optional): Convolution config. Defaults to None.
        norm_cfg (dict): Norm config, e.g. dict(type='IN') for the feature
            encoder, dict(type='BN') or dict(type='SyncBN') for the context
            encoder. Defaults to dict(type='BN').
        act_cfg (dict): Activation config. Defaults to dict(type='ReLU').
        init_cfg (dict | list, optional): Initialisation config.
    """

    block = InvertedResidual

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 widths: Sequence[int],
                 depths: Sequence[int],
                 kernel_sizes: Sequence[int],
                 expand_ratios: Sequence[int],
                 strides: Sequence[int] = FLOWNAS_STRIDES,
                 stem_channels: int = 64,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        choices = (widths, depths, kernel_sizes, expand_ratios, strides)
        if len({len(c) for c in choices}) != 1:
            raise ValueError('need one width, depth, kernel size, expand '
                             'ratio and stride per stage')
        self.in_channels = in_channels
        self.out_channels = out_channels

        self.stem = ConvModule(
            in_channels,
            stem_channels,
            7,
            stride=2,
            padding=3,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        channels = stem_channels
        self.layers = []
        for i, (width, depth, kernel, expand,
                stride) in enumerate(zip(*choices)):
            blocks = []
            for j in range(depth):
                blocks.append(
                    self.block(channels, width, kernel, expand,
                               stride if j == 0 else 1, conv_cfg, norm_cfg,
                               act_cfg))
                channels = width
            self.add_module(f'layer{i + 1}', self._stage(blocks))
            self.layers.append(f'layer{i + 1}')
        self.projection = build_conv_layer(
            conv_cfg, channels, out_channels, 1, bias=False)

    @staticmethod
    def _stage(blocks: List[nn.Module]) -> nn.Module:
        return Sequential(*blocks)

    @staticmethod
    def num_params(in_channels: int,
                   out_channels: int,
                   widths: Sequence[int],
                   depths: Sequence[int],
                   kernel_sizes: Sequence[int],
                   expand_ratios: Sequence[int],
                   stem_channels: int = 64,
                   norm_cfg: dict = dict(type='BN'),
                   **unused) -> int:
        """The number of parameters of the encoder these arguments (those of
        the constructor) build, counted without building it: a search
        checks its parameter bound on thousands of candidates.

        Convolutions have no bias (each has a norm, or is the projection);
        a norm has the parameters of its type per channel.
        """
        per_channel = sum(
            p.numel() for p in build_norm_layer(norm_cfg, 1)[1].parameters())
        total = in_channels * stem_channels * 7 * 7 + \
            per_channel * stem_channels
        channels = stem_channels
        for width, depth, kernel, expand in zip(widths, depths, kernel_sizes,
                                                expand_ratios):
            for _ in range(depth):
                mid = channels * expand
                if expand != 1:
                    total += (channels + per_channel) * mid
                total += (kernel * kernel + per_channel) * mid
                total += mid * width + per_channel * width
                if channels != width:
                    total += channels * width
                channels = width
        return total + channels * out_channels

    @staticmethod
    def num_flops(input_size: Sequence[int],
                  element_flops: Callable[[nn.Module], float],
                  in_channels: int,
                  out_channels: int,
                  widths: Sequence[int],
                  depths: Sequence[int],
                  kernel_sizes: Sequence[int],
                  expand_ratios: Sequence[int],
                  strides: Sequence[int] = FLOWNAS_STRIDES,
                  stem_channels: int = 64,
                  norm_cfg: dict = dict(type='BN'),
                  act_cfg: dict = dict(type='ReLU'),
                  **unused) -> float:
        """The FLOPs of the encoder the other arguments (those of the
        constructor) build, on one image of ``input_size`` (H, W), counted
        without building or running it, as mmrazor's counters count a built
        one: ``kernel_h * kernel_w * in_channels * out_channels / groups``
        per output position of a convolution, ``element_flops(layer)`` per
        element of a norm's input and of an activation's output (what the
        counters charge that layer: 2 for an affine BatchNorm, 1 for ReLU),
        nothing for the shortcut's functional pooling and addition.
        """
        norm_flops = element_flops(build_norm_layer(norm_cfg, 1)[1])
        act_flops = element_flops(build_activation_layer(act_cfg))
        # The stem has stride 2; a convolution of odd kernel k, padding
        # k // 2 and stride s gives ceil(size / s).
        rows, cols = (-(-size // 2) for size in input_size)
        total = (in_channels * 49 + norm_flops + act_flops) * \
            stem_channels * rows * cols
        channels = stem_channels
        for width, depth, kernel, expand, stride in zip(
                widths, depths, kernel_sizes, expand_ratios, strides):
            for j in range(depth):
                mid = channels * expand
                if expand != 1:
                    total += (channels + norm_flops + act_flops) * mid * \
                        rows * cols
                if j == 0:
                    rows, cols = -(-rows // stride), -(-cols // stride)
                total += (kernel * kernel + norm_flops + act_flops) * mid * \
                    rows * cols
                total += (mid + norm_flops) * width * rows * cols
                if channels != width:
                    total += channels * width * rows * cols
                channels = width
        return total + channels * out_channels * rows * cols

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for name in self.layers:
            x = getattr(self, name)(x)
        return self.projection(x)


# ---------------------------------------------------------------------------
# The supernet over the search space
# ---------------------------------------------------------------------------


class DynamicInstanceNorm2d(nn.InstanceNorm2d):
    """InstanceNorm without affine parameters for any number of channels.

    mmrazor has no dynamic InstanceNorm; without affine parameters or running
    statistics none is needed beyond not warning about the channel count.

    Args:
        num_features (int): The largest number of channels.
        eps (float): Added to the variance. Defaults to 1e-5.
        momentum (float): Unused (no running statistics). Defaults to 0.1.
        affine (bool): Must be False (mmflow's 'IN' default).
        track_running_stats (bool): Must be False.
    """

    def __init__(self,
                 num_features: int,
                 eps: float = 1e-5,
                 momentum: float = 0.1,
                 affine: bool = False,
                 track_running_stats: bool = False) -> None:
        if affine or track_running_stats:
            raise ValueError('DynamicInstanceNorm2d supports neither affine '
                             'parameters nor running statistics')
        super().__init__(num_features, eps, momentum, affine,
                         track_running_stats)

    def forward(self, x: Tensor) -> Tensor:
        return F.instance_norm(x, eps=self.eps)


def _dynamic_norm(norm_type: str) -> type:
    """The dynamic counterpart of a static norm type.

    SyncBN becomes plain dynamic BN outside distributed runs, as mmengine's
    Runner reverts SyncBN there (it would turn the dynamic SyncBN into a
    static BN of the largest width), and on hosts without CUDA, where torch's
    SyncBN cannot run and a distributed run keeps rank-local statistics.
    """
    if norm_type == 'SyncBN':
        synced = dist.is_available() and dist.is_initialized() and \
            torch.cuda.is_available()
        return DynamicSyncBatchNorm if synced else DynamicBatchNorm2d
    norms = dict(
        BN=DynamicBatchNorm2d,
        BN2d=DynamicBatchNorm2d,
        IN=DynamicInstanceNorm2d,
        IN2d=DynamicInstanceNorm2d)
    if norm_type not in norms:
        raise KeyError(f'norm type {norm_type} has no dynamic counterpart; '
                       f'use one of {sorted(norms) + ["SyncBN"]}')
    return norms[norm_type]


class SearchableInvertedResidual(InvertedResidual):
    """:class:`InvertedResidual` at its largest shape, sliced by mutables.

    mmrazor's ``MBBlock`` is not used because it always builds a shortcut
    convolution and runs the expansion at ratio 1, so no fixed block could
    reproduce its subnets exactly. Here the block skips the expansion at
    ratio 1 and the shortcut projection when the current widths agree,
    exactly as the fixed block of that shape is built.

    Args:
        in_channels (int): Largest input width.
        out_channels (int): Largest output width.
        kernel_size (int): Largest kernel size.
        expand_ratio (int): Largest expansion ratio.
        stride (int): Stride. Defaults to 1.
        conv_cfg (dict, optional): Dynamic convolution config.
        norm_cfg (dict): Dynamic norm config.
        act_cfg (dict): Activation config. Defaults to dict(type='ReLU').
    """

    def register_mutables(self, in_channels: OneShotMutableChannel,
                          out_channels: OneShotMutableChannel,
                          kernel_size: OneShotMutableValue,
                          expand_ratio: OneShotMutableValue) -> None:
        """Let the mutables (at their largest choices) slice this block."""
        # A tuple, not attributes: the mutables belong to the encoder, and
        # submodules here would repeat their state in every block.
        self._mutables = (in_channels, out_channels, expand_ratio)
        if self.shortcut_conv is None and in_channels is not out_channels:
            # The largest widths agree (the stem's 64 into stage 1) but the
            # current ones may not.
            self.shortcut_conv = build_conv_layer(
                dict(type=BigNasConv2d), in_channels.num_channels,
                out_channels.num_channels, 1, bias=False)
            OneShotMutableChannelUnit._register_channel_container(
                self, MutableChannelContainer)
        mid_channels = in_channels * expand_ratio
        if self.expand_conv is not None:
            mutate_conv_module(self.expand_conv, in_channels, mid_channels)
        mutate_conv_module(self.depthwise_conv, mid_channels, mid_channels,
                           kernel_size)
        mutate_conv_module(self.linear_conv, mid_channels, out_channels)
        if self.shortcut_conv is not None:
            for mutable, is_output in ((in_channels, False),
                                       (out_channels, True)):
                MutableChannelContainer.register_mutable_channel_to_module(
                    self.shortcut_conv, mutable, is_output)

    def expands(self) -> bool:
        return (self.expand_conv is not None
                and self._mutables[2].current_choice != 1)

    def projects(self) -> bool:
        in_channels, out_channels, _ = self._mutables
        return (self.shortcut_conv is not None and
                in_channels.current_choice != out_channels.current_choice)


@RAZOR_MODELS.register_module()
class SearchableFlowNASEncoder(FlowNASEncoder):
    """The FlowNAS supernet encoder: every architecture of a search space.

    Built at the largest choice of every stage; one-shot mutables (aliases
    ``stage{i}.width`` / ``.depth`` / ``.kernel_size`` / ``.expand_ratio``)
    slice it to a subnet: channel mutables take the first channels of every
    convolution and norm, the kernel mutable the centre of the depthwise
    kernels (BigNAS), the depth mutable the first blocks of a stage. A subnet
    computes exactly what :class:`FlowNASEncoder` of that architecture does
    with the sliced weights.

    RAFT's context encoder follows the feature encoder's choice: call
    :meth:`follow` (the :class:`FlowNAS` algorithm does) so that both share
    one set of mutables.

    Args:
        in_channels (int): Input channels (3 for one image).
        out_channels (int): Output channels.
        search_space (dict): Per-stage candidate ``widths``, ``depths``,
            ``kernel_sizes`` and ``expand_ratios`` (lists of lists). Defaults
            to :data:`FLOWNAS_SEARCH_SPACE`.
        strides (Sequence[int]): Stride of the first block of each stage.
            Defaults to (1, 1, 2, 1, 2, 1).
        stem_channels (int): Stem width. Defaults to 64.
        norm_cfg (dict): The norm of the fixed encoder ('IN', 'BN' or
            'SyncBN'; no affine IN); its dynamic counterpart is used here.
            Defaults to dict(type='BN').
        act_cfg (dict): Activation config. Defaults to dict(type='ReLU').
        init_cfg (dict | list, optional): Initialisation config.
    """

    block = SearchableInvertedResidual

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 search_space: Dict[str,
                                    List[List[int]]] = FLOWNAS_SEARCH_SPACE,
                 strides: Sequence[int] = FLOWNAS_STRIDES,
                 stem_channels: int = 64,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        if set(search_space) != set(ARCH_KEYS):
            raise KeyError(f'search_space needs exactly the keys {ARCH_KEYS}')
        self.search_space = {
            key: [sorted(choices) for choices in search_space[key]]
            for key in ARCH_KEYS
        }
        self.static_norm_cfg = copy.deepcopy(norm_cfg)
        largest = {k: [c[-1] for c in v] for k, v in self.search_space.items()}
        super().__init__(
            in_channels,
            out_channels,
            **largest,
            strides=strides,
            stem_channels=stem_channels,
            conv_cfg=dict(type=BigNasConv2d),
            norm_cfg=dict(norm_cfg, type=_dynamic_norm(norm_cfg['type'])),
            act_cfg=act_cfg,
            init_cfg=init_cfg)
        self.strides = tuple(strides)
        self.stem_channels = stem_channels
        self.act_cfg = act_cfg
        OneShotMutableChannelUnit._register_channel_container(
            self, MutableChannelContainer)
        self._register_mutables(self._make_mutables())

    @staticmethod
    def _stage(blocks: List[nn.Module]) -> nn.Module:
        return DynamicSequential(*blocks)

    def _make_mutables(self) -> nn.ModuleDict:
        """One mutable per stage and choice, plus the stem's fixed width."""
        mutables = nn.ModuleDict()
        # A channel mutable with one choice: stage 1's expansion is derived
        # from the width entering it.
        mutables['stem_width'] = OneShotMutableChannel(
            self.stem_channels, [self.stem_channels], alias='stem.width')
        for i in range(len(self.layers)):
            stage = f'stage{i + 1}'
            for key, name in CHOICE_ALIASES.items():
                choices = list(self.search_space[key][i])
                if key == 'widths':
                    mutable = OneShotMutableChannel(
                        choices[-1], choices, alias=f'{stage}.{name}')
                else:
                    mutable = OneShotMutableValue(
                        choices,
                        default_value=choices[-1],
                        alias=f'{stage}.{name}')
                mutables[f'{stage}_{name}'] = mutable
        return mutables

    def _register_mutables(self, mutables: nn.ModuleDict) -> None:
        """Let ``mutables`` slice every dynamic op of this encoder."""
        # Registration sizes each op's channel slots from the current
        # choices, so it must happen at the largest ones.
        for mutable in mutables.values():
            mutable.current_choice = mutable.num_channels if isinstance(
                mutable, OneShotMutableChannel) else mutable.max_choice
        # Replace, not add to, the mutables that slice the ops now.
        for module in self.modules():
            if isinstance(module, DynamicChannelMixin):
                for attr in ('in_channels', 'out_channels'):
                    container = module.get_mutable_attr(attr)
                    container.mutable_channels = IndexDict()
        self.mutables = mutables
        mutate_conv_module(
            self.stem, mutable_out_channels=mutables['stem_width'])
        in_channels = mutables['stem_width']
        for i, name in enumerate(self.layers):
            stage = f'stage{i + 1}'
            width = mutables[f'{stage}_width']
            layer = getattr(self, name)
            layer.register_mutable_attr('depth', mutables[f'{stage}_depth'])
            for block in layer.pure_modules():
                block.register_mutables(in_channels, width,
                                        mutables[f'{stage}_kernel_size'],
                                        mutables[f'{stage}_expand_ratio'])
                in_channels = width
        MutableChannelContainer.register_mutable_channel_to_module(
            self.projection, in_channels, is_to_output_channel=False)

    def follow(self, leader: 'SearchableFlowNASEncoder') -> None:
        """Share ``leader``'s mutables, so this encoder always takes its
        architecture (RAFT's context encoder follows the feature encoder).

        Args:
            leader (SearchableFlowNASEncoder): An encoder of the same search
                space, strides and stem.
        """
        if (leader.search_space, leader.strides, leader.stem_channels) != (
                self.search_space, self.strides, self.stem_channels):
            raise ValueError('an encoder can only follow one of the same '
                             'search space, strides and stem')
        self._register_mutables(leader.mutables)

    @property
    def current_arch(self) -> Dict[str, List[int]]:
        """The architecture the mutables choose now, as per-stage lists."""
        return {
            key: [
                self.mutables[f'stage{i + 1}_{name}'].current_choice
                for i in range(len(self.layers))
            ]
            for key, name in CHOICE_ALIASES.items()
        }

    def static_cfg(self, arch: Optional[Dict[str, List[int]]] = None) -> dict:
        """The :class:`FlowNASEncoder` config of ``arch`` (default: the
        current architecture), with this encoder's norm."""
        arch = self.current_arch if arch is None else arch
        return dict(
            type='FlowNASEncoder',
            in_channels=self.in_channels,
            out_channels=self.out_channels,
            **{key: list(arch[key])
               for key in ARCH_KEYS},
            strides=list(self.strides),
            stem_channels=self.stem_channels,
            norm_cfg=copy.deepcopy(self.static_norm_cfg),
            act_cfg=copy.deepcopy(self.act_cfg))

    def static_copy(self) -> FlowNASEncoder:
        """A :class:`FlowNASEncoder` of the current architecture holding
        the weights this supernet uses for it, sliced as the mutables slice
        them (the first channels of every tensor, the centre of the
        depthwise kernels; the blocks beyond a stage's depth do not exist),
        on the same device and in the same mode: it computes what the
        supernet computes, without slicing again at every call."""
        static = MODELS.build(self.static_cfg())
        supernet = self.state_dict()
        state = {}
        for name, tensor in static.state_dict().items():
            source = supernet[name]
            state[name] = source[tuple(
                slice(0, size) if dim < 2 else slice(
                    (full - size) // 2, (full + size) // 2)
                for dim, (size, full) in enumerate(
                    zip(tensor.shape, source.shape)))]
        static.load_state_dict(state)
        return static.to(next(self.parameters()).device).train(self.training)
