"""Adaptive vision transformers for few-shot cross-domain face anti-spoofing
(Huang et al., ECCV 2022) as mmpretrain components: ensemble adapters and FWT
plugged into mmpretrain's VisionTransformer, the normalised head, the
classifier with the adapters' cosine loss and stage-wise freezing, FAS frame
datasets, a domain-balanced sampler and video-level FAS metrics."""
from .adapters import (Adapter, EnsembleAdapter, FeatureWiseTransform,
                       ensemble_cosine_loss)
from .adaptive_vit import AdaptiveVisionTransformer
from .classifier import FASClassifier
from .datasets import (FASDataError, FASFrameDataset, parse_fas_label,
                       select_shots, video_of_frame)
from .head import NormLinearClsHead
from .metrics import FASMetric, fas_metrics, video_scores
from .sampler import DomainBalancedSampler

__all__ = [
    'Adapter', 'EnsembleAdapter', 'FeatureWiseTransform',
    'ensemble_cosine_loss', 'AdaptiveVisionTransformer', 'FASClassifier',
    'FASDataError', 'FASFrameDataset', 'parse_fas_label', 'select_shots',
    'video_of_frame', 'NormLinearClsHead', 'FASMetric', 'fas_metrics',
    'video_scores', 'DomainBalancedSampler'
]
