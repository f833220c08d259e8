"""PCK: the fraction of transferred keypoints within alpha x a per-dataset
threshold of the ground truth."""
import logging
from collections import defaultdict

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from mmext.errors import BadValueError

__all__ = ['PCKMetric', 'pck_threshold']

THRESHOLDS = ('image', 'bbox', 'keypoints')


def pck_threshold(kind, image_shape, bbox, kps):
    """The length PCK's alpha multiplies, in target-image pixels.

    Args:
        kind (str): ``'image'``: max(H, W) of the target image (PF-PASCAL);
            ``'bbox'``: max side of the annotated target box (SPair-71k);
            ``'keypoints'``: max side of the target keypoints' box (PF-WILLOW).
        image_shape (tuple): Target (H, W).
        bbox (array): Target box (x1, y1, x2, y2).
        kps (array): (K, 2) target keypoints.
    """
    if kind == 'image':
        return float(max(image_shape))
    if kind == 'bbox':
        x1, y1, x2, y2 = bbox
        return float(max(x2 - x1, y2 - y1))
    if kind == 'keypoints':
        extent = np.max(kps, axis=0) - np.min(kps, axis=0)
        return float(extent.max())
    raise BadValueError(f'PCK threshold must be one of {THRESHOLDS}, got {kind!r}')


@METRICS.register_module()
class PCKMetric(BaseMetric):
    """PCK at several alphas, averaged per pair and per category.

    A predicted keypoint counts as correct when its distance to the ground
    truth is at most ``alpha * threshold``; a non-finite prediction is never
    correct. Predictions (``pred_kps``, in the resized input frame) are mapped
    back to the original target image by ``trg_scale_factor``. A pair with no
    keypoint has no PCK: it is left out of both averages and the number left
    out is logged (the benchmark readers already drop such pairs).

    Args:
        alphas (Sequence[float]): Defaults to (0.05, 0.1, 0.15).
        threshold (str): ``'image'``, ``'bbox'`` or ``'keypoints'``, see
            :func:`pck_threshold`.
        **kwargs: ``collect_device``, ``prefix``.

    Reports ``pck/<alpha>``, the mean over pairs, as the headline for every
    benchmark (the paper's and the reference's "per-pair PCK averaged"), and
    ``pck/<alpha>_per_class``, the mean of per-category means, alongside it
    (it weighs rare categories up; SPair-71k papers often tabulate it per
    category).
    """
    default_prefix = 'pck'

    def __init__(self, alphas=(0.05, 0.1, 0.15), threshold='image', **kwargs):
        super().__init__(**kwargs)
        if threshold not in THRESHOLDS:
            raise BadValueError(f'PCKMetric threshold must be one of {THRESHOLDS}, '
                             f'got {threshold!r}')
        self.alphas = tuple(alphas)
        self.threshold = threshold

    def process(self, data_batch, data_samples):
        for sample in data_samples:
            pred = np.asarray(sample['pred_kps'].cpu(), np.float64)
            pred = pred / np.asarray(sample['trg_scale_factor'], np.float64)
            gt = np.asarray(sample['trg_kps'], np.float64).reshape(-1, 2)
            if len(gt) == 0:
                self.results.append(dict(category=sample['category'],
                                         pck=None))
                continue
            length = pck_threshold(self.threshold, sample['trg_ori_shape'],
                                   sample.get('trg_bbox'), gt)
            error = np.linalg.norm(pred - gt, axis=1)
            error[~np.isfinite(error)] = np.inf
            self.results.append(dict(
                category=sample['category'],
                pck=[float(np.mean(error <= a * length)) for a in self.alphas]))

    def compute_metrics(self, results):
        skipped = sum(r['pck'] is None for r in results)
        if skipped:
            print_log(f'PCK: {skipped} of {len(results)} pairs have no '
                      'keypoint and are left out', logger='current',
                      level=logging.WARNING)
        results = [r for r in results if r['pck'] is not None]
        if not results:
            raise BadValueError('PCK: no pair has a keypoint to score')
        per_pair = np.array([r['pck'] for r in results])
        by_class = defaultdict(list)
        for r in results:
            by_class[r['category']].append(r['pck'])
        per_class = np.array([np.mean(v, axis=0) for v in by_class.values()])
        metrics = {}
        for i, alpha in enumerate(self.alphas):
            metrics[f'{alpha:g}'] = 100 * float(per_pair[:, i].mean())
            metrics[f'{alpha:g}_per_class'] = 100 * float(per_class[:, i].mean())
        return metrics
