"""Structured sparsification with learnable channel shuffle (StrucSpars, UAI
2021): an mmrazor algorithm, its hooks, the grouped-conv deploy model and its
folded inference form."""
from .algorithm import ConvShuffle, StructuredSparsification, groupable_convs
from .deploy import PermutedGroupConv2d, StrucSparsDeploySubModel, to_deploy
from .fold import fold_permutations
from .hooks import (FoldPermutationsHook, PermutationUpdateHook,
                    SparsityLambdaHook, next_lambda)

__all__ = [
    'ConvShuffle', 'StructuredSparsification', 'groupable_convs',
    'PermutedGroupConv2d', 'StrucSparsDeploySubModel', 'to_deploy',
    'fold_permutations',
    'PermutationUpdateHook', 'SparsityLambdaHook', 'FoldPermutationsHook',
    'next_lambda'
]
