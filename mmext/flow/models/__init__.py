"""Flow models, registered in mmext's MODELS under mmflow's type names."""
from ..data_preprocessor import FlowDataPreprocessor
from .base import FlowEstimator, InputPadder, build_component
from .cost_volumes import CostVolume, DotProductCostVolume
from .lcv import LearnableCostVolume
from .losses import SequenceLoss
from .multilevel_epe import MultiLevelEPE
from .pwcnet import (PWCModule, ContextNet, PWCNet, PWCNetDecoder,
                     PWCNetEncoder, Warp)
from .raft import (RAFT, ConvGRU, CorrelationPyramid, CorrLookup,
                   MotionEncoder, RAFTDecoder, RAFTEncoder, XHead)

__all__ = [
    'FlowDataPreprocessor', 'FlowEstimator', 'InputPadder', 'build_component',
    'CostVolume', 'DotProductCostVolume', 'SequenceLoss', 'RAFT',
    'RAFTEncoder', 'RAFTDecoder', 'CorrelationPyramid', 'CorrLookup',
    'MotionEncoder', 'ConvGRU', 'XHead', 'MultiLevelEPE', 'PWCNet',
    'PWCNetEncoder', 'PWCNetDecoder', 'PWCModule', 'ContextNet', 'Warp',
    'LearnableCostVolume'
]
