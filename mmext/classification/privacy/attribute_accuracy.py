"""Mean attribute accuracy, the utility measure of CelebA attribute
prediction: each attribute is a binary decision, and its accuracy is averaged
over attributes. mmpretrain's multi-label metrics report precision, recall,
F1 and AP, not this.
"""
from typing import List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS
from mmpretrain.structures import label_to_onehot

__all__ = ['MeanAttributeAccuracy']


@METRICS.register_module()
class MeanAttributeAccuracy(BaseMetric):
    """Per-attribute accuracy of thresholded multi-label scores, averaged
    over attributes (in percent), as ``attribute_accuracy/mean``.

    Args:
        thr (float): Score threshold of a positive. Defaults to 0.5.
        collect_device (str): As in BaseMetric. Defaults to 'cpu'.
        prefix (str, optional): Defaults to 'attribute_accuracy'.
    """
    default_prefix: Optional[str] = 'attribute_accuracy'

    def __init__(self,
                 thr: float = 0.5,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.thr = thr

    def process(self, data_batch, data_samples: Sequence[dict]):
        for sample in data_samples:
            scores = sample['pred_score'].cpu()
            if 'gt_score' in sample:
                target = sample['gt_score'].cpu()
            else:
                target = label_to_onehot(sample['gt_label'], len(scores))
            self.results.append(((scores > self.thr) == (target > 0)).float())

    def compute_metrics(self, results: List[torch.Tensor]) -> dict:
        per_attribute = torch.stack(results).mean(0) * 100
        return dict(mean=float(per_attribute.mean()))
