"""Optical flow on mmengine, compatible with mmflow's configs and weights."""
from . import datasets, evaluation, models  # noqa: F401
from .data_preprocessor import FlowDataPreprocessor
from .structures import FlowDataSample
from .visualization import FlowVisualizationHook, flow_to_color  # noqa: F401

__all__ = ['FlowDataPreprocessor', 'FlowDataSample']
