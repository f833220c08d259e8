"""Pictures of optical flow: the Middlebury colour wheel and a training hook.

:func:`flow_to_color` is the one colour coding of flow in mmext (demo, hook,
docs): the colour wheel of Baker et al., "A Database and Evaluation Methodology
for Optical Flow" (IJCV 2011), as in the Middlebury code and RAFT's
``flow_viz``. Hue is the direction (right red, down yellow, left cyan, up
violet), saturation the magnitude relative to ``max_flow``; zero flow is white.
"""
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.utils import mkdir_or_exist

from mmext.registry import HOOKS

__all__ = [
    'make_color_wheel', 'max_flow_magnitude', 'flow_to_color',
    'FlowVisualizationHook'
]

# Number of hues between the six primaries of the wheel (Middlebury's choice,
# perceptually spaced): red-yellow, yellow-green, green-cyan, cyan-blue,
# blue-magenta, magenta-red.
_WHEEL_SEGMENTS = (15, 6, 4, 11, 13, 6)


def make_color_wheel() -> np.ndarray:
    """The Middlebury colour wheel: (55, 3) float RGB in [0, 255], from red
    through yellow, green, cyan, blue and magenta back towards red."""
    # Each segment ramps one channel up or down while one stays at 255.
    ramps = ((0, 1, +1), (1, 0, -1), (1, 2, +1), (2, 1, -1), (2, 0, +1),
             (0, 2, -1))
    segments = []
    for length, (full, ramp, sign) in zip(_WHEEL_SEGMENTS, ramps):
        segment = np.zeros((length, 3))
        segment[:, full] = 255
        steps = np.floor(255 * np.arange(length) / length)
        segment[:, ramp] = steps if sign > 0 else 255 - steps
        segments.append(segment)
    return np.concatenate(segments)


_COLOR_WHEEL = make_color_wheel()


def _visible_flow(flow, valid=None) -> Tuple[np.ndarray, np.ndarray]:
    """``flow`` as float64 (H, W, 2) with hidden pixels (invalid or
    non-finite) set to 0, and the (H, W) mask of the visible ones."""
    if isinstance(flow, torch.Tensor):
        flow = flow.detach().cpu().numpy()
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim == 3 and flow.shape[0] == 2 and flow.shape[-1] != 2:
        flow = flow.transpose(1, 2, 0)
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f'flow must be (H, W, 2) or (2, H, W), got shape '
                         f'{flow.shape}')
    visible = np.isfinite(flow).all(axis=-1)
    if valid is not None:
        if isinstance(valid, torch.Tensor):
            valid = valid.detach().cpu().numpy()
        visible &= np.asarray(valid).reshape(visible.shape) >= 0.5
    return np.where(visible[..., None], flow, 0.), visible


def max_flow_magnitude(flow, valid=None) -> float:
    """The largest magnitude of the finite, valid vectors of ``flow`` (0 if
    there are none): the scale :func:`flow_to_color` uses by default.

    Args:
        flow (np.ndarray | Tensor): Flow (H, W, 2) or (2, H, W).
        valid (np.ndarray | Tensor, optional): (H, W) mask, nonzero where
            valid.
    """
    flow, _ = _visible_flow(flow, valid)
    return float(np.hypot(flow[..., 0], flow[..., 1]).max(initial=0.))


def flow_to_color(flow,
                  max_flow: Optional[float] = None,
                  valid=None) -> np.ndarray:
    """Colour-code a flow field with the Middlebury colour wheel.

    Args:
        flow (np.ndarray | Tensor): Flow (H, W, 2) or (2, H, W), (u, v) in
            pixels.
        max_flow (float, optional): Magnitude shown fully saturated; larger
            flow is drawn darker (x 0.75), as in Middlebury's code. None uses
            :func:`max_flow_magnitude` of ``flow``; pass one value to compare
            several fields (e.g. prediction and ground truth).
        valid (np.ndarray | Tensor, optional): (H, W) mask; pixels where it
            is 0, and non-finite flow, are drawn black.

    Returns:
        np.ndarray: uint8 RGB image (H, W, 3).
    """
    flow, visible = _visible_flow(flow, valid)
    u, v = flow[..., 0], flow[..., 1]
    if max_flow is None:
        max_flow = max_flow_magnitude(flow)
    radius = np.hypot(u, v) / (max_flow + 1e-5)

    # Direction -> fractional position on the wheel; the two nearest colours
    # are blended.
    num_colors = len(_COLOR_WHEEL)
    angle = np.arctan2(-v, -u) / np.pi
    position = (angle + 1) / 2 * (num_colors - 1)
    k0 = np.floor(position).astype(np.int64)
    k1 = (k0 + 1) % num_colors
    blend = (position - k0)[..., None]
    color = ((1 - blend) * _COLOR_WHEEL[k0] + blend * _COLOR_WHEEL[k1]) / 255

    saturated = (radius <= 1)[..., None]
    color = np.where(saturated, 1 - radius[..., None] * (1 - color),
                     color * 0.75)
    color[~visible] = 0
    return np.floor(255 * color).astype(np.uint8)


@HOOKS.register_module()
class FlowVisualizationHook(Hook):
    """Writes colour-wheel pictures of predictions on the first validation
    (and test) pairs.

    At every validation during training the first ``num_pairs`` pairs are drawn
    into ``<work_dir>/<timestamp>/vis/iter_<n>/`` (``n`` the training
    iteration; a stand-alone test run writes to ``vis/test/``), two PNGs per
    pair ``k``:

    - ``pair_<k>_pred.png``: the predicted flow;
    - ``pair_<k>_panel.png``: image 1 | ground truth | prediction side by side
      (flows on one colour scale: the ground truth's largest valid magnitude;
      invalid ground truth black).

    Only the main process writes.

    Args:
        num_pairs (int): Number of pairs drawn per evaluation. Defaults to 4.
        draw_test (bool): Also draw the first pairs of a test run.
            Defaults to True.
    """

    def __init__(self, num_pairs: int = 4, draw_test: bool = True) -> None:
        if num_pairs < 0:
            raise ValueError(f'num_pairs must be >= 0, got {num_pairs}')
        self.num_pairs = num_pairs
        self.draw_test = draw_test
        self._drawn = 0

    def before_val_epoch(self, runner) -> None:
        self._drawn = 0

    def before_test_epoch(self, runner) -> None:
        self._drawn = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence) -> None:
        self._draw(osp.join(runner.log_dir, 'vis', f'iter_{runner.iter}'),
                   data_batch, outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence) -> None:
        if self.draw_test:
            self._draw(osp.join(runner.log_dir, 'vis', 'test'), data_batch,
                       outputs)

    @master_only
    def _draw(self, out_dir: str, data_batch: dict, outputs: Sequence) -> None:
        for inputs, sample in zip(data_batch['inputs'], outputs):
            if self._drawn >= self.num_pairs:
                return
            pred = sample.pred_flow_fw.data
            pred_rgb = flow_to_color(pred)
            panel = [self._first_image(inputs, pred.shape[-2:])]
            if sample.get('gt_flow_fw') is not None:
                gt = sample.gt_flow_fw.data
                valid = sample.get('gt_valid_fw')
                valid = None if valid is None else valid.data
                scale = max_flow_magnitude(gt, valid)
                panel += [
                    flow_to_color(gt, scale, valid),
                    flow_to_color(pred, scale)
                ]
            else:
                panel.append(pred_rgb)
            stem = osp.join(out_dir, f'pair_{self._drawn}')
            _write_png(stem + '_pred.png', pred_rgb[..., ::-1])
            _write_png(stem + '_panel.png',
                       np.concatenate(panel, axis=1)[..., ::-1])
            self._drawn += 1

    @staticmethod
    def _first_image(inputs, size) -> np.ndarray:
        """Image 1 of a (6, H, W) input as uint8 RGB, sized like the flow."""
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.cpu().numpy()
        image = inputs[:3].transpose(1, 2, 0)
        image = np.clip(image, 0, 255).astype(np.uint8)[..., ::-1]
        if image.shape[:2] != tuple(size):
            image = cv2.resize(image, (size[1], size[0]))
        return np.ascontiguousarray(image)


def _write_png(path: str, image: np.ndarray) -> None:
    """Write a BGR image, creating the folder; fail loudly (cv2 does not)."""
    mkdir_or_exist(osp.dirname(path))
    if not cv2.imwrite(path, np.ascontiguousarray(image)):
        raise OSError(f'cannot write {path}')
