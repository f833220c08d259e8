"""Optical-flow metrics on mmengine: end-point error and KITTI's Fl outliers.

Both read the data samples as mmengine's evaluator passes them (dicts from
``FlowDataSample.to_dict()``): ``pred_flow_fw['data']`` and ``gt_flow_fw['data']``
(2, H, W), and ``gt_valid_fw['data']`` (1, H, W) where present. A pixel counts
where the valid mask is >= 0.5 and the ground truth is finite and below
Middlebury's unknown-flow threshold (the rule of :mod:`mmext.flow.datasets.flow_io`).

Averaging (``average``):

- ``'pixel'`` (default): the mean over all counted pixels of the whole evaluation
  set, so an image weighs by its number of valid pixels. KITTI's Fl-all is
  defined this way.
- ``'image'``: the mean of per-image means (images without a counted pixel are
  skipped). Published KITTI EPE figures use it (RAFT's ``evaluate.py`` averages
  the per-image EPE but pools the outliers of all pixels for Fl), so the KITTI
  configs set it for EPE.

mmflow averaged per batch instead, which depends on the batch size; at batch
size 1 it equals ``'image'``.

Non-finite predictions never flatter a score: a counted pixel whose predicted
flow is NaN or infinite is an outlier for Fl, and makes EPE NaN or inf; both
metrics log a warning (to the run's log) with the number of such pixels.
"""
import logging
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmext.registry import METRICS
from ..datasets.flow_io import UNKNOWN_FLOW_THRESH

__all__ = ['EndPointError', 'FlowOutliers']


class _FlowErrorMetric(BaseMetric):
    """Per-image sums of a per-pixel error over the counted pixels, reduced over
    the evaluation set by :meth:`compute_metrics`.

    Args:
        average (str): 'pixel' or 'image' (see the module notes).
            Defaults to 'pixel'.
        collect_device (str): Device for collecting results across ranks,
            'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    #: Name of the metric in the results.
    metric_name = ''
    #: What non-finite predictions do to the metric (for the warning).
    non_finite_effect = ''
    #: Factor applied to the averaged per-pixel error.
    scale = 1.

    def __init__(self,
                 average: str = 'pixel',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        if average not in ('pixel', 'image'):
            raise ValueError(f"average must be 'pixel' or 'image', got "
                             f'{average!r}')
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.average = average

    def pixel_error(self, epe: torch.Tensor,
                    gt_norm: torch.Tensor) -> torch.Tensor:
        """The per-pixel quantity averaged, from the end-point error and the
        ground-truth magnitude of the counted pixels."""
        raise NotImplementedError

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store ``(error sum, pixel count, non-finite count)`` of every
        sample.

        Args:
            data_batch: The batch from the dataloader (unused).
            data_samples (Sequence[dict]): The model's outputs as dicts.
        """
        for sample in data_samples:
            self.results.append(self._sample_sums(sample))

    def _sample_sums(self, sample: dict) -> Tuple[float, int, int]:
        pred = sample['pred_flow_fw']['data'].detach().cpu().double()
        gt = sample['gt_flow_fw']['data'].detach().cpu().double()
        if pred.shape != gt.shape:
            raise ValueError(f'predicted flow {tuple(pred.shape)} and ground '
                             f'truth {tuple(gt.shape)} differ in shape '
                             f"({sample.get('img1_path')})")
        counted = (gt.abs() < UNKNOWN_FLOW_THRESH).all(dim=0)
        if sample.get('gt_valid_fw') is not None:
            counted &= sample['gt_valid_fw']['data'].detach().cpu()[0] >= 0.5
        pred, gt = pred[:, counted], gt[:, counted]
        epe = torch.linalg.vector_norm(pred - gt, dim=0)
        error = self.pixel_error(epe, torch.linalg.vector_norm(gt, dim=0))
        non_finite = int((~torch.isfinite(pred).all(dim=0)).sum())
        return float(error.sum()), int(counted.sum()), non_finite

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Reduce the per-sample sums over the evaluation set.

        Args:
            results (list): ``(error sum, pixel count, non-finite count)`` per
                sample.

        Returns:
            dict[str, float]: ``{metric_name: value}``; NaN if no pixel counted.
        """
        sums = np.array([r[0] for r in results], dtype=np.float64)
        counts = np.array([r[1] for r in results], dtype=np.int64)
        non_finite = sum(r[2] for r in results)
        if non_finite:
            print_log(
                f'{self.metric_name}: {non_finite} of {counts.sum()} counted '
                f'pixels have a non-finite predicted flow (NaN or inf), in '
                f'{sum(r[2] > 0 for r in results)} of {len(results)} images; '
                f'{self.non_finite_effect}',
                logger='current',
                level=logging.WARNING)
        if self.average == 'pixel':
            value = sums.sum() / counts.sum() if counts.sum() else np.nan
        else:
            some = counts > 0
            value = (sums[some] / counts[some]).mean() if some.any() \
                else np.nan
        return {self.metric_name: float(self.scale * value)}


@METRICS.register_module()
class EndPointError(_FlowErrorMetric):
    """Average end-point error ``|pred - gt|_2`` in pixels, reported as 'EPE'.

    Args:
        average (str): 'pixel' (over all valid pixels of the set, default) or
            'image' (mean of per-image means).
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    metric_name = 'EPE'
    non_finite_effect = 'EPE is not finite'

    def pixel_error(self, epe: torch.Tensor,
                    gt_norm: torch.Tensor) -> torch.Tensor:
        """The end-point error itself."""
        return epe


@METRICS.register_module()
class FlowOutliers(_FlowErrorMetric):
    """KITTI's Fl: percentage of outliers, pixels whose end-point error is
    > 3 px and > 5% of the ground-truth magnitude; reported as 'Fl'.

    With the default ``average='pixel'`` this is KITTI's Fl-all: 100 times the
    outlier fraction over all valid pixels of the set.

    Args:
        average (str): 'pixel' (default) or 'image'.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    metric_name = 'Fl'
    non_finite_effect = 'they count as outliers'
    scale = 100.

    def pixel_error(self, epe: torch.Tensor,
                    gt_norm: torch.Tensor) -> torch.Tensor:
        """1 for an outlier, else 0 (``epe > 0.05 |gt|`` avoids dividing by a
        zero magnitude and equals KITTI's ``epe / |gt| > 0.05``). A NaN
        error compares false with everything, so a pixel is an inlier only
        when its error is provably within a threshold."""
        inlier = (epe <= 3) | (epe <= 0.05 * gt_norm)
        return (~inlier).double()
