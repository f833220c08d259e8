"""Optical-flow data: file formats, datasets and transforms (mmflow's names).

Importing this package registers the datasets in mmext's ``DATASETS`` and the
transforms in mmext's ``TRANSFORMS``.
"""
from .base import BaseFlowDataset, InMemoryFlowDataset
from .flow_io import (load_flow_gt, read_flow, read_flow_kitti, read_pfm,
                      sanitize_flow, write_flow, write_flow_kitti, write_pfm)
from .flying_chairs import FlyingChairs
from .flying_photos import FlyingPhotos, make_flying_photos_pair
from .flying_things3d import FlyingThings3D, FlyingThings3DSubset
from .hd1k import HD1K
from .kitti import KITTI2012, KITTI2015
from .sintel import Sintel
from .stereo_motorcycle import MiddleburyStereoFlow
from .synthetic import (FlyingShapes, make_flying_shapes_pair,
                        write_flying_chairs_layout)
from .transforms import (ColorJitter, Erase, LoadAnnotations,
                         LoadImageFromFile, PackFlowInputs, RandomCrop,
                         RandomFlip, SpacialTransform)

__all__ = [
    'read_flow', 'write_flow', 'read_pfm', 'write_pfm', 'read_flow_kitti',
    'write_flow_kitti', 'sanitize_flow', 'load_flow_gt', 'BaseFlowDataset',
    'InMemoryFlowDataset', 'FlyingChairs', 'FlyingThings3D',
    'FlyingThings3DSubset', 'Sintel', 'KITTI2012', 'KITTI2015', 'HD1K',
    'FlyingShapes', 'FlyingPhotos', 'MiddleburyStereoFlow',
    'make_flying_shapes_pair', 'make_flying_photos_pair',
    'write_flying_chairs_layout', 'LoadImageFromFile', 'LoadAnnotations',
    'RandomCrop', 'RandomFlip', 'ColorJitter', 'Erase', 'SpacialTransform',
    'PackFlowInputs'
]
from .recipe_transforms import (GaussianNoise, RandomAffine,  # noqa: F401
                                RandomGamma, Validation)
