"""Semantic correspondence: multi-level contrastive learning (MoCo +
cross-instance cycle consistency), hyperpixel matching, PCK and the PF-PASCAL /
PF-WILLOW / SPair-71k readers, registered in mmpretrain's registries."""
from .datasets import (PFPascalPairs, PFWillowPairs, SameClassPairs,
                       ShippedPhotoCrops, SPairPairs, ZipViews)
from .features import hyperpixel_features, resnet_block_features
from .matcher import HyperpixelMatcher
from .metrics import PCKMetric, pck_threshold
from .model import ContrastiveCorrespondence, cycle_coordinates
from .transforms import LoadImagePair, PairViews, ResizePair

__all__ = [
    'ContrastiveCorrespondence', 'HyperpixelMatcher', 'LoadImagePair',
    'PCKMetric', 'PFPascalPairs', 'PFWillowPairs', 'PairViews', 'ResizePair',
    'SPairPairs', 'SameClassPairs', 'ShippedPhotoCrops', 'ZipViews',
    'cycle_coordinates', 'hyperpixel_features', 'pck_threshold',
    'resnet_block_features'
]
