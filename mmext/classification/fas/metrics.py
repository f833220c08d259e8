"""Face anti-spoofing metrics: video-level AUC, EER, HTER, TPR@FPR, with the
decision threshold's origin named in every key that depends on it."""
import json
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS
from sklearn.metrics import roc_auc_score, roc_curve

from .datasets import FASDataError

__all__ = ['FASMetric', 'fas_metrics', 'video_scores']


def video_scores(scores: Sequence[float], labels: Sequence[int],
                 videos: Sequence) -> tuple:
    """Average frame scores per video (videos in first-seen order).

    Returns:
        tuple: ``(scores, labels)`` arrays, one entry per video.
    """
    grouped = OrderedDict()
    for score, label, video in zip(scores, labels, videos):
        entry = grouped.setdefault(video, [[], int(label)])
        if entry[1] != int(label):
            raise FASDataError(
                f'video {video!r} has frames labelled both live and spoof')
        entry[0].append(float(score))
    return (np.array([np.mean(s) for s, _ in grouped.values()]),
            np.array([label for _, label in grouped.values()]))


def fas_metrics(scores: np.ndarray,
                labels: np.ndarray,
                threshold: Optional[float] = None,
                fpr_target: float = 0.01) -> Dict[str, float]:
    """AUC, EER and its threshold, HTER and TPR at a fixed FPR.

    ``scores`` are live probabilities, ``labels`` 1 for live and 0 for spoof;
    a sample is accepted as live when ``score >= threshold``. FAR is the
    share of spoofs accepted, FRR the share of lives rejected.

    Args:
        scores (np.ndarray): One score per sample (video).
        labels (np.ndarray): 1 live, 0 spoof.
        threshold (float, optional): Decision threshold for HTER; ``None``
            uses the EER threshold of these very scores (optimistic).
        fpr_target (float): FPR of the reported TPR (0.01).

    Returns:
        dict: ``auc``, ``eer``, ``eer_threshold``, ``hter``, ``far``,
        ``frr``, ``threshold``, ``tpr_at_fpr`` (rates as fractions).
    """
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=float)
    if set(np.unique(labels)) != {0, 1}:
        raise FASDataError(
            'FAS metrics need both live and spoof samples; got labels '
            f'{sorted(set(labels.tolist()))}')
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    fnr = 1 - tpr
    # The ROC point where FAR and FRR are closest; thresholds[0] is +inf.
    best = int(np.argmin(np.abs(fnr - fpr)))
    eer_threshold = float(thresholds[best])
    if threshold is None:
        threshold = eer_threshold
    accepted = scores >= threshold
    far = float(accepted[labels == 0].mean())
    frr = float((~accepted[labels == 1]).mean())
    return dict(auc=float(roc_auc_score(labels, scores)),
                eer=float((fpr[best] + fnr[best]) / 2),
                eer_threshold=eer_threshold,
                hter=(far + frr) / 2,
                far=far,
                frr=frr,
                threshold=float(threshold),
                tpr_at_fpr=float(tpr[fpr <= fpr_target].max()))


@METRICS.register_module()
class FASMetric(BaseMetric):
    """Video-level FAS metrics for mmengine evaluators.

    Frame probabilities of the live class are averaged per video (the
    ``video`` meta key; the frame itself if absent), then AUC, EER, HTER
    and TPR@FPR are computed in percent. HTER needs a threshold, and where
    it comes from is part of each key that depends on it:

    - ``threshold='test-eer'``: the EER threshold of the evaluated split
      itself (what the papers report; optimistic). Keys ``HTER@test-eer``.
    - ``threshold=<float>``: a fixed value. Keys ``HTER@fixed``.
    - ``threshold=<path.json>``: one saved by ``save_threshold`` from an
      evaluation of a validation split. Keys ``HTER@val``.

    Args:
        threshold (str | float): See above.
        save_threshold (str, optional): Write this split's EER threshold to
            this JSON file (``{"threshold": ...}``), for a later run.
        live_index (int): Index of the live class in ``pred_score``.
        fpr_target (float): FPR of the TPR (0.01 -> ``TPR@FPR=1%``).
        collect_device, prefix: As in mmengine's ``BaseMetric``.
    """
    default_prefix = 'fas'

    def __init__(self,
                 threshold: Union[str, float] = 'test-eer',
                 save_threshold: Optional[str] = None,
                 live_index: int = 1,
                 fpr_target: float = 0.01,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not (isinstance(threshold, (int, float)) or threshold == 'test-eer'
                or str(threshold).endswith('.json')):
            raise ValueError(
                "FASMetric threshold must be 'test-eer', a number or a "
                f'.json file from save_threshold; got {threshold!r}')
        self.threshold = threshold
        self.save_threshold = save_threshold
        self.live_index = live_index
        self.fpr_target = fpr_target

    def process(self, data_batch, data_samples: Sequence[dict]):
        for sample in data_samples:
            self.results.append(
                dict(score=float(sample['pred_score'][self.live_index]),
                     label=int(sample['gt_label']),
                     video=sample.get('video', sample.get('img_path'))))

    def _threshold(self):
        if self.threshold == 'test-eer':
            return 'test-eer', None
        if isinstance(self.threshold, (int, float)):
            return 'fixed', float(self.threshold)
        if not osp.isfile(self.threshold):
            raise FASDataError(
                f'threshold file not found: {self.threshold} (write it with '
                'FASMetric(save_threshold=...) on a validation split)')
        with open(self.threshold) as f:
            return 'val', float(json.load(f)['threshold'])

    def compute_metrics(self, results: list) -> Dict[str, float]:
        scores, labels = video_scores([r['score'] for r in results],
                                      [r['label'] for r in results],
                                      [r['video'] for r in results])
        policy, threshold = self._threshold()
        values = fas_metrics(scores, labels, threshold, self.fpr_target)
        if self.save_threshold:
            with open(self.save_threshold, 'w') as f:
                json.dump(dict(threshold=values['eer_threshold']), f)
        fpr_name = f'TPR@FPR={self.fpr_target * 100:g}%'
        return {
            'AUC': 100 * values['auc'],
            'EER': 100 * values['eer'],
            fpr_name: 100 * values['tpr_at_fpr'],
            f'HTER@{policy}': 100 * values['hter'],
            f'threshold@{policy}': values['threshold'],
            'num_videos': float(len(scores)),
        }
