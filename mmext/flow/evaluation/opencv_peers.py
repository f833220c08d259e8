"""Classical optical flow from OpenCV as peers of mmext's learned models, and
a side-by-side evaluation on the real Middlebury pair at several scales.

OpenCV's Farneback and DIS (Kroeger et al., ECCV 2016) are what every user
of a flow model can run instead, so a learned model is judged next to them.
They are evaluation baselines only: no mmext model calls them. Both take
grey images, as OpenCV defines them; scores use mmext's own
:class:`~.metrics.EndPointError` and :class:`~.metrics.FlowOutliers`, so the
peers and the models are counted on exactly the same pixels.
"""
import time
from typing import Callable, Dict, Sequence

import cv2
import numpy as np
import torch
from mmengine.dataset import pseudo_collate

from ..datasets import MiddleburyStereoFlow, PackFlowInputs
from .metrics import EndPointError, FlowOutliers

__all__ = [
    'zero_flow', 'farneback_flow', 'dis_flow', 'OPENCV_PEERS', 'model_flow',
    'score_flow', 'warp_residual', 'compare_on_middlebury',
    'format_comparison'
]


def _grey(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img


def zero_flow(img1: np.ndarray, img2: np.ndarray) -> np.ndarray:
    """Zero flow of the images' size: the floor every method must beat."""
    return np.zeros(img1.shape[:2] + (2, ), np.float32)


def farneback_flow(img1: np.ndarray, img2: np.ndarray) -> np.ndarray:
    """Farneback's polynomial-expansion flow (float32 (H, W, 2)) with the
    parameters of OpenCV's optical-flow tutorial (3 levels, window 15).

    Args:
        img1 (np.ndarray): First image, BGR uint8 (or grey).
        img2 (np.ndarray): Second image, same size.
    """
    return cv2.calcOpticalFlowFarneback(
        _grey(img1), _grey(img2), None, pyr_scale=0.5, levels=3, winsize=15,
        iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def dis_flow(img1: np.ndarray,
             img2: np.ndarray,
             preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) -> np.ndarray:
    """DIS flow (float32 (H, W, 2)), the medium preset by default.

    Args:
        img1 (np.ndarray): First image, BGR uint8 (or grey).
        img2 (np.ndarray): Second image, same size.
        preset (int): ``cv2.DISOPTICAL_FLOW_PRESET_*``. Defaults to MEDIUM.
    """
    return cv2.DISOpticalFlow_create(preset).calc(
        _grey(img1), _grey(img2), None)


#: The peers of the comparison tables, by the name their column carries.
OPENCV_PEERS: Dict[str, Callable] = {
    'zero flow': zero_flow,
    'OpenCV Farneback': farneback_flow,
    'OpenCV DIS medium': dis_flow,
}


def model_flow(model: torch.nn.Module, img1: np.ndarray,
               img2: np.ndarray) -> np.ndarray:
    """The flow (float32 (H, W, 2)) of an mmext flow model in eval mode
    from two BGR uint8 arrays (its data preprocessor normalises them)."""
    results = dict(
        img1=img1, img2=img2, img_shape=img1.shape[:2],
        ori_shape=img1.shape[:2])
    with torch.no_grad():
        sample = model.test_step(pseudo_collate([PackFlowInputs()(results)
                                                 ]))[0]
    return sample.pred_flow_fw.data.cpu().numpy().transpose(1, 2, 0)


def score_flow(flow: np.ndarray, gt: np.ndarray,
               valid: np.ndarray) -> Dict[str, float]:
    """``{'EPE': px, 'Fl': %}`` of ``flow`` against ``gt`` on the pixels where
    ``valid`` >= 0.5, by mmext's metrics."""
    sample = dict(
        pred_flow_fw=dict(data=torch.from_numpy(flow.transpose(2, 0, 1))),
        gt_flow_fw=dict(data=torch.from_numpy(gt.transpose(2, 0, 1))),
        gt_valid_fw=dict(data=torch.from_numpy(valid[None].astype(
            np.float32))))
    scores = {}
    for metric in (EndPointError(prefix='peers'),
                   FlowOutliers(prefix='peers')):
        metric.process({}, [sample])
        scores.update(metric.compute_metrics(metric.results))
    return scores


def warp_residual(img1: np.ndarray, img2: np.ndarray,
                  flow: np.ndarray) -> float:
    """Mean absolute grey-level difference between ``img1`` and ``img2``
    sampled at ``p + flow`` (bilinear) over the pixels that land inside
    ``img2``: a flow's fit to the images where no ground truth exists
    (lower is better; occlusions and lighting keep it above 0)."""
    height, width = flow.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    map_x, map_y = x + flow[..., 0], y + flow[..., 1]
    warped = cv2.remap(
        _grey(img2).astype(np.float32), map_x, map_y, cv2.INTER_LINEAR)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (
        map_y <= height - 1)
    error = np.abs(warped - _grey(img1).astype(np.float32))
    return float(error[inside].mean()) if inside.any() else float('nan')


def compare_on_middlebury(
        methods: Dict[str, Callable],
        downscales: Sequence[int] = (1, 2, 4)) -> Dict[int, dict]:
    """Score flow methods on the Middlebury Motorcycle pair at each scale.

    Args:
        methods (dict[str, callable]): ``name -> f(img1, img2)`` returning
            the flow (H, W, 2) from BGR uint8 images, e.g.
            :data:`OPENCV_PEERS` plus ``partial(model_flow, model)``.
        downscales (Sequence[int]): Factors of
            :class:`~mmext.flow.datasets.MiddleburyStereoFlow`. Defaults to
            (1, 2, 4): 500x741, 250x370 and 125x185.

    Returns:
        dict: ``{downscale: {'size': (H, W), 'median': median |gt| (px),
        name: {'EPE', 'Fl', 'seconds'}}}``; seconds are the wall time of one
        call.
    """
    table = {}
    for factor in downscales:
        img1, img2, gt, valid = MiddleburyStereoFlow(
            downscale=factor).make_pair({})
        row = dict(
            size=gt.shape[:2],
            median=float(np.median(np.hypot(*gt[valid >= 0.5].T))))
        for name, method in methods.items():
            start = time.perf_counter()
            flow = method(img1, img2)
            seconds = time.perf_counter() - start
            row[name] = dict(score_flow(flow, gt, valid), seconds=seconds)
        table[factor] = row
    return table


def format_comparison(table: Dict[int, dict],
                      with_seconds: bool = False) -> str:
    """A markdown table of :func:`compare_on_middlebury`'s result: one row
    per scale, one EPE column per method (and its wall time if asked)."""
    names = [key for key in next(iter(table.values()))
             if key not in ('size', 'median')]
    header = ['scale (size), median motion']
    for name in names:
        header.append(f'{name} EPE (px)')
        if with_seconds:
            header.append(f'{name} (s)')
    lines = ['| ' + ' | '.join(header) + ' |', '|---' * len(header) + '|']
    for factor, row in table.items():
        height, width = row['size']
        cells = [f'1/{factor} ({height}x{width}), {row["median"]:.1f} px'
                 if factor > 1 else
                 f'full ({height}x{width}), {row["median"]:.1f} px']
        for name in names:
            cells.append(f'{row[name]["EPE"]:.2f}')
            if with_seconds:
                cells.append(f'{row[name]["seconds"]:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
