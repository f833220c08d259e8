"""A real optical-flow ground truth that ships offline: Middlebury 2014's
Motorcycle stereo pair as bundled by scikit-image."""
from typing import List, Sequence, Tuple

import numpy as np

from mmext.registry import DATASETS
from .base import InMemoryFlowDataset

__all__ = ['MiddleburyStereoFlow']


def _block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor x factor`` blocks (height and width divisible)."""
    height, width = array.shape[:2]
    blocks = array.reshape(height // factor, factor, width // factor, factor,
                           *array.shape[2:])
    return blocks.mean(axis=(1, 3))


@DATASETS.register_module()
class MiddleburyStereoFlow(InMemoryFlowDataset):
    """The Middlebury 2014 Motorcycle pair from
    :func:`skimage.data.stereo_motorcycle`, read as optical flow.

    A rectified stereo pair is a flow pair whose flow is purely horizontal:
    the left-image pixel ``x`` with disparity ``d`` appears at ``x - d`` in the
    right image, so the left-to-right flow is ``(u, v) = (-d, 0)``. The
    ground-truth disparity (500x741, already downsampled 4x by scikit-image) is
    undefined (nan/inf) on about 7% of the pixels; those are invalid. Images
    are converted from RGB to BGR, the stack's convention. One item.

    With ``downscale = f > 1`` the images are averaged over ``f x f`` blocks
    (after cropping to a multiple of ``f``), the flow is the block mean divided
    by ``f``, and a block is valid only if all its pixels are.

    ``img1_path`` / ``img2_path`` / ``flow_fw_path`` are placeholders
    (``'skimage.data.stereo_motorcycle/left'``, ...).

    Args:
        downscale (int): Integer downscaling factor. Defaults to 1.
        pipeline (list): Transforms (no loaders). Defaults to ().
        **kwargs: Other :class:`~.base.InMemoryFlowDataset` arguments.
    """

    def __init__(self,
                 downscale: int = 1,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if int(downscale) != downscale or downscale < 1:
            raise ValueError(f'downscale must be a positive integer, got '
                             f'{downscale}')
        self.downscale = int(downscale)
        super().__init__(pipeline=pipeline, **kwargs)

    def load_data_list(self) -> List[dict]:
        """The single pair."""
        stem = 'skimage.data.stereo_motorcycle/'
        return [
            dict(
                img1_path=stem + 'left',
                img2_path=stem + 'right',
                flow_fw_path=stem + 'disparity')
        ]

    def make_pair(
        self, data_info: dict
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Load the pair (imported here: scikit-image is only needed for it)."""
        from skimage.data import stereo_motorcycle
        left, right, disparity = stereo_motorcycle()
        valid = np.isfinite(disparity)
        flow = np.zeros(disparity.shape + (2, ), np.float32)
        flow[valid, 0] = -disparity[valid]
        img1, img2 = left[..., ::-1], right[..., ::-1]
        factor = self.downscale
        if factor > 1:
            height = disparity.shape[0] // factor * factor
            width = disparity.shape[1] // factor * factor
            img1, img2, flow, valid = (a[:height, :width]
                                       for a in (img1, img2, flow, valid))
            img1, img2 = (np.round(_block_mean(img.astype(np.float32),
                                               factor)).astype(np.uint8)
                          for img in (img1, img2))
            flow = _block_mean(flow, factor) / factor
            valid = _block_mean(valid.astype(np.float32), factor) == 1
        return (np.ascontiguousarray(img1), np.ascontiguousarray(img2), flow,
                valid.astype(np.float32))
