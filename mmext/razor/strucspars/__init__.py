"""Structured sparsification with learnable channel shuffle (StrucSpars, UAI
2021): an mmrazor algorithm, its hooks and the grouped-conv deploy model."""
from .algorithm import ConvShuffle, StructuredSparsification, groupable_convs
from .deploy import PermutedGroupConv2d, StrucSparsDeploySubModel, to_deploy
from .hooks import PermutationUpdateHook, SparsityLambdaHook, next_lambda

__all__ = [
    'ConvShuffle', 'StructuredSparsification', 'groupable_convs',
    'PermutedGroupConv2d', 'StrucSparsDeploySubModel', 'to_deploy',
    'PermutationUpdateHook', 'SparsityLambdaHook', 'next_lambda'
]
