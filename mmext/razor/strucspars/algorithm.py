"""Structured sparsification with learnable channel shuffle (StrucSpars) as an
mmrazor algorithm.

Paper: "Structured Sparsification with Joint Optimization of Group Convolution
and Channel Shuffle", UAI 2021. The algorithm wraps any classifier unchanged
and keeps, for each dense convolution, the permutations P, Q and a group
count. In the order of the paper:

1. ``update_permutations``: P and Q gather each conv's weight mass into a block
   diagonal (exact alternating assignments, :mod:`.permutation`).
2. ``regroup``: each layer's group count follows from how much mass lies
   outside the block diagonal at threshold ``p`` (:mod:`.grouping`).
3. ``apply_regulariser``: after backward, every weight outside the block
   diagonal one level beyond the current grouping gets the structured-L1
   gradient ``lambda * sign(W) * R_g[P_inv][:, Q_inv]``, driving that mass to
   zero so the next level can be cut.
4. ``groups_for_ratio``: at the end, bisection on ``p`` meets the requested
   prune ratio, and :mod:`.deploy` turns each conv into a real grouped conv.

The schedules of steps 1-3 (when to shuffle, how ``lambda`` evolves) are the
hooks in :mod:`.hooks`.
"""
import functools
import re

import torch
import torch.nn as nn
from mmrazor.models.algorithms.base import BaseAlgorithm
from mmrazor.registry import MODELS

from . import grouping, permutation

__all__ = ['ConvShuffle', 'StructuredSparsification', 'groupable_convs']


def groupable_convs(model, exclude=()):
    """Names of the convolutions that can become grouped convolutions.

    Dense 2-d convolutions whose channel counts can both be halved at least
    once. Depthwise and other grouped convolutions are grouped already and
    an odd channel count (the RGB stem) admits one group only, so both stay
    as they are.

    Args:
        model (nn.Module): Any model.
        exclude (Sequence[str]): Regular expressions; a conv whose name
            matches one (``re.search``) stays dense.
    """
    return [
        name for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d) and module.groups == 1
        and permutation.block_levels(module.out_channels,
                                     module.in_channels) > 0
        and not any(re.search(pattern, name) for pattern in exclude)
    ]


@functools.lru_cache(maxsize=None)
def _cost(rows, cols, power, levels=None):
    cost = permutation.cost_matrix(rows, cols, power, levels)
    cost.setflags(write=False)
    return cost


class ConvShuffle(nn.Module):
    """The learned structure of one convolution, kept as buffers so that it is
    saved, resumed and broadcast with the model.

    Args:
        out_channels (int): Output channels of the conv.
        in_channels (int): Input channels of the conv.
    """

    def __init__(self, out_channels, in_channels):
        super().__init__()
        self.register_buffer('out_perm', torch.arange(out_channels))
        self.register_buffer('in_perm', torch.arange(in_channels))
        self.register_buffer('groups', torch.tensor(1))


@MODELS.register_module()
class StructuredSparsification(BaseAlgorithm):
    """Structured sparsification with learnable channel shuffle.

    Wraps a model (an mmpretrain classifier, say) without changing it; train
    it with :class:`~.hooks.PermutationUpdateHook` and
    :class:`~.hooks.SparsityLambdaHook`, then export a grouped-conv model
    with ``tools/strucspars/export.py``.

    Args:
        architecture (dict | BaseModel): The model to sparsify.
        power (float): Decay of the cost matrix per block level.
            Defaults to 0.5.
        train_threshold (float): ``p`` that sets the group counts (and so
            the regulariser) during training. Defaults to 0.1.
        exclude (Sequence[str]): Regular expressions of conv names to keep
            dense. Defaults to ().
        data_preprocessor (dict | nn.Module, optional): Defaults to the
            architecture's.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 architecture,
                 power=0.5,
                 train_threshold=0.1,
                 exclude=(),
                 data_preprocessor=None,
                 init_cfg=None):
        super().__init__(architecture, data_preprocessor, init_cfg)
        self.power = power
        self.train_threshold = train_threshold
        self.conv_names = groupable_convs(self.architecture, exclude)
        if not self.conv_names:
            raise ValueError(
                f'{type(self.architecture).__name__} has no convolution that '
                'can be grouped (dense Conv2d with even channel counts).')
        # ModuleDict keys cannot hold dots.
        self.shuffles = nn.ModuleDict({
            self._key(name): ConvShuffle(conv.out_channels, conv.in_channels)
            for name, conv in self.convs()
        })
        #: The structured-L1 coefficient, set by SparsityLambdaHook.
        self.reg_lambda = 0.0
        # Derived from the buffers; plain tensors, so that DDP does not
        # broadcast them every iteration.
        self._penalties = {}

    @staticmethod
    def _key(name):
        return name.replace('.', '-')

    def convs(self):
        """``(name, conv)`` of every sparsified convolution."""
        for name in self.conv_names:
            yield name, self.architecture.get_submodule(name)

    def shuffle(self, name):
        """The :class:`ConvShuffle` of the conv ``name``."""
        return self.shuffles[self._key(name)]

    def numels(self):
        """Dense weight count per sparsified conv."""
        return {name: conv.weight.numel() for name, conv in self.convs()}

    @torch.no_grad()
    def weight_norm(self, name):
        """``S``: the L1 norm of each (output, input) kernel, float64."""
        weight = self.architecture.get_submodule(name).weight
        return weight.detach().abs().sum(dim=(2, 3)).double().cpu().numpy()

    def _shuffled_norm(self, name):
        shuffle = self.shuffle(name)
        out_perm = shuffle.out_perm.cpu().numpy()
        in_perm = shuffle.in_perm.cpu().numpy()
        return self.weight_norm(name)[out_perm][:, in_perm]

    # 1. Permutations.

    @torch.no_grad()
    def update_permutations(self, iters):
        """Run up to ``iters`` alternating P/Q rounds on every conv.

        Returns:
            float: The summed objective ``<S[P][:, Q], R>`` afterwards.
        """
        total = 0.0
        for name, conv in self.convs():
            shuffle = self.shuffle(name)
            out_perm, in_perm, value = permutation.update_permutations(
                self.weight_norm(name),
                shuffle.out_perm.cpu().numpy(),
                shuffle.in_perm.cpu().numpy(),
                _cost(conv.out_channels, conv.in_channels, self.power), iters)
            shuffle.out_perm.copy_(torch.from_numpy(out_perm))
            shuffle.in_perm.copy_(torch.from_numpy(in_perm))
            total += value
        self._penalties.clear()
        return total

    # 2. Group counts.

    def removed_fractions(self):
        """:func:`.grouping.removed_fractions` of every conv."""
        return {
            name: grouping.removed_fractions(self._shuffled_norm(name))
            for name in self.conv_names
        }

    def groups(self):
        """The current group count per conv."""
        return {
            name: int(self.shuffle(name).groups)
            for name in self.conv_names
        }

    def set_groups(self, groups):
        """Set the group count of each conv named in ``groups``."""
        for name, count in groups.items():
            self.shuffle(name).groups.fill_(int(count))
        self._penalties.clear()

    def regroup(self, threshold=None):
        """Group every conv at threshold ``p`` (``train_threshold`` by
        default).

        Returns:
            float: The prune ratio of that grouping (the model's sparsity).
        """
        threshold = self.train_threshold if threshold is None else threshold
        groups = {
            name: grouping.groups_at(removed, threshold)
            for name, removed in self.removed_fractions().items()
        }
        self.set_groups(groups)
        return grouping.prune_ratio(groups, self.numels())

    def groups_for_ratio(self, ratio):
        """Bisection on ``p`` for the grouping closest to prune ``ratio`` of
        the sparsified conv weights (see
        :func:`.grouping.bisect_threshold`); the model is left unchanged.

        Returns:
            tuple[float, dict[str, int], float]: ``p``, groups, ratio reached.
        """
        return grouping.bisect_threshold(self.removed_fractions(),
                                         self.numels(), ratio)

    # 3. The regulariser.

    def _penalty(self, name, conv):
        penalty = self._penalties.get(name)
        if penalty is None or penalty.device != conv.weight.device:
            shuffle = self.shuffle(name)
            # One level beyond the current grouping: the mass the next cut
            # would remove is what gets pushed to zero.
            levels = int(shuffle.groups).bit_length()
            cost = torch.tensor(
                _cost(conv.out_channels, conv.in_channels, self.power,
                      levels)).to(conv.weight)
            out_inv = torch.argsort(shuffle.out_perm).to(cost.device)
            in_inv = torch.argsort(shuffle.in_perm).to(cost.device)
            penalty = cost[out_inv][:, in_inv][:, :, None, None]
            self._penalties[name] = penalty
        return penalty

    @torch.no_grad()
    def apply_regulariser(self):
        """Add ``lambda * sign(W) * R_g[P_inv][:, Q_inv]`` to each sparsified
        weight's gradient (no-op while ``lambda`` is 0)."""
        if self.reg_lambda == 0:
            return
        for name, conv in self.convs():
            if conv.weight.grad is not None:
                conv.weight.grad.add_(
                    torch.sign(conv.weight) * self._penalty(name, conv),
                    alpha=self.reg_lambda)

    # 4. Masking.

    def block_masks(self):
        """For every conv, the boolean ``C_out x C_in`` mask of the weights
        its current grouping keeps, in the conv's own channel order."""
        masks = {}
        for name, conv in self.convs():
            shuffle = self.shuffle(name)
            mask = torch.from_numpy(
                permutation.block_diagonal_mask(conv.out_channels,
                                                conv.in_channels,
                                                int(shuffle.groups)))
            out_inv = torch.argsort(shuffle.out_perm.cpu())
            in_inv = torch.argsort(shuffle.in_perm.cpu())
            masks[name] = mask[out_inv][:, in_inv]
        return masks

    @torch.no_grad()
    def mask_weights(self):
        """Zero the weights outside each conv's (shuffled) block diagonal:
        the masked dense model, which computes what the deploy model does."""
        masks = self.block_masks()
        for name, conv in self.convs():
            conv.weight.mul_(masks[name].to(conv.weight)[:, :, None, None])
