"""The deploy model: each sparsified convolution becomes a real grouped
convolution between two channel gathers.

A conv whose shuffled weight ``W[P][:, Q]`` is block diagonal with ``g`` blocks
computes the same as ``x[:, Q] -> grouped conv (g groups) -> y[:, P_inv]``; the
grouped conv holds only the diagonal blocks, ``1/g`` of the weights and FLOPs.
:func:`StrucSparsDeploySubModel` rebuilds that structure from a config (the
group count per conv), so an exported checkpoint is evaluated and fine-tuned
with the ordinary tools like any other model. For inference,
:func:`~.fold.fold_permutations` folds most gathers into the neighbouring
layers.
"""
import copy

import torch
import torch.nn as nn
from mmengine import fileio
from mmrazor.registry import MODELS

__all__ = ['PermutedGroupConv2d', 'StrucSparsDeploySubModel', 'to_deploy']


@MODELS.register_module()
class PermutedGroupConv2d(nn.Conv2d):
    """A grouped convolution whose input channels are gathered before, and
    whose output channels are scattered back after, the convolution.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple): As in :class:`torch.nn.Conv2d`.
        stride, padding, dilation, groups, bias, padding_mode: As in
            :class:`torch.nn.Conv2d`.

    Buffers ``in_perm`` (Q: grouped-conv input ``j`` reads channel ``Q[j]``)
    and ``out_perm_inv`` (P_inv: output channel ``a`` is grouped-conv output
    ``P_inv[a]``) start as identities and are loaded from the checkpoint.
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 stride=1,
                 padding=0,
                 dilation=1,
                 groups=1,
                 bias=True,
                 padding_mode='zeros'):
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         padding, dilation, groups, bias, padding_mode)
        self.register_buffer('in_perm', torch.arange(in_channels))
        self.register_buffer('out_perm_inv', torch.arange(out_channels))

    @classmethod
    def like(cls, conv, groups):
        """An uninitialised grouped counterpart of the dense ``conv``."""
        return cls(conv.in_channels, conv.out_channels, conv.kernel_size,
                   conv.stride, conv.padding, conv.dilation, groups,
                   conv.bias is not None, conv.padding_mode).to(conv.weight)

    @classmethod
    @torch.no_grad()
    def from_conv(cls, conv, groups, out_perm, in_perm):
        """Convert a dense ``conv`` whose ``weight[P][:, Q]`` is (to be read
        as) block diagonal with ``groups`` blocks.

        Args:
            conv (nn.Conv2d): The dense conv (``groups == 1``).
            groups (int): Number of diagonal blocks.
            out_perm (Tensor): P.
            in_perm (Tensor): Q.
        """
        grouped = cls.like(conv, groups)
        out_perm = out_perm.to(conv.weight.device)
        in_perm = in_perm.to(conv.weight.device)
        shuffled = conv.weight[out_perm][:, in_perm]
        rows, cols = conv.out_channels // groups, conv.in_channels // groups
        for block in range(groups):
            out_rows = slice(block * rows, (block + 1) * rows)
            in_cols = slice(block * cols, (block + 1) * cols)
            grouped.weight[out_rows] = shuffled[out_rows, in_cols]
        if conv.bias is not None:
            grouped.bias.copy_(conv.bias[out_perm])
        grouped.in_perm.copy_(in_perm)
        grouped.out_perm_inv.copy_(torch.argsort(out_perm))
        return grouped

    def forward(self, x):
        out = super().forward(x.index_select(1, self.in_perm))
        return out.index_select(1, self.out_perm_inv)


def to_deploy(algorithm):
    """The deploy model of a :class:`~.StructuredSparsification` at its
    current groups: a copy of the architecture whose convs with more than one
    group are :class:`PermutedGroupConv2d`. Its outputs equal those of the
    architecture after ``algorithm.mask_weights()``."""
    model = copy.deepcopy(algorithm.architecture)
    for name, conv in algorithm.convs():
        shuffle = algorithm.shuffle(name)
        if int(shuffle.groups) > 1:
            model.set_submodule(
                name,
                PermutedGroupConv2d.from_conv(conv, int(shuffle.groups),
                                              shuffle.out_perm,
                                              shuffle.in_perm))
    return model


@MODELS.register_module()
def StrucSparsDeploySubModel(architecture, groups, data_preprocessor=None):
    """Build ``architecture`` with the listed convs as grouped convs.

    Like mmrazor's ``GroupFisherDeploySubModel``, this returns the
    architecture itself, so the state-dict keys are the architecture's and an
    exported checkpoint fits exactly; the weights come from that checkpoint.

    Args:
        architecture (dict | nn.Module): The dense model.
        groups (dict[str, int] | str): Group count per conv name, or a
            JSON/YAML file holding it (written by the export tool). Convs
            with one group stay dense.
        data_preprocessor (dict, optional): Passed to the architecture when
            it does not set one (what the Runner does with a config's
            top-level ``data_preprocessor``).

    Returns:
        nn.Module: The deploy model.
    """
    if isinstance(groups, str):
        groups = fileio.load(groups)
    if isinstance(architecture, dict):
        architecture = copy.deepcopy(architecture)
        if data_preprocessor is not None:
            architecture.setdefault('data_preprocessor', data_preprocessor)
        architecture = MODELS.build(architecture)
    for name, count in groups.items():
        if count > 1:
            conv = architecture.get_submodule(name)
            architecture.set_submodule(name,
                                       PermutedGroupConv2d.like(conv, count))
    return architecture
