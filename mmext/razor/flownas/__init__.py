"""FlowNAS: searching RAFT's encoders (supernet training with feature alignment
distillation, constrained evolutionary search, export to a standalone RAFT)."""
from .algorithm import FlowNAS, FlowNASDDP
from .export import export_subnet, write_static_raft
from .loops import (FlowNASSearchLoop, FlowNASSubnetValLoop,
                    FlowResourceEstimator)
from .searchable_encoder import (ARCH_KEYS, CHOICE_ALIASES,
                                 FLOWNAS_SEARCH_SPACE,
                                 FLOWNAS_STRIDES, DynamicInstanceNorm2d,
                                 FlowNASEncoder, InvertedResidual,
                                 SearchableFlowNASEncoder,
                                 SearchableInvertedResidual)

__all__ = [
    'FlowNAS', 'FlowNASDDP', 'export_subnet', 'write_static_raft', 'FlowNASSearchLoop',
    'FlowNASSubnetValLoop', 'FlowResourceEstimator', 'ARCH_KEYS',
    'CHOICE_ALIASES', 'FLOWNAS_SEARCH_SPACE',
    'FLOWNAS_STRIDES', 'DynamicInstanceNorm2d', 'FlowNASEncoder',
    'InvertedResidual', 'SearchableFlowNASEncoder',
    'SearchableInvertedResidual'
]
