"""Common ground of mmext's optical-flow datasets.

Every dataset yields dicts that the flow pipeline understands. On-disk datasets
(:class:`BaseFlowDataset`) list ``img1_path``, ``img2_path``, ``flow_fw_path`` and
``sparse`` per pair, and the pipeline starts with ``LoadImageFromFile`` and
``LoadAnnotations``. Datasets generated in memory (:class:`InMemoryFlowDataset`)
hand out what those two loaders would have produced, so the rest of a pipeline
(augmentation, ``PackFlowInputs``) is the same for both.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset

from mmext.errors import UserError
from .transforms import set_flow_gt, set_image_pair

__all__ = [
    'BaseFlowDataset', 'InMemoryFlowDataset', 'require_dir', 'index_frames',
    'pair_frames'
]

# The frame number is the last run of digits of a file's stem: 'frame_0001',
# '0000007', 'OpticalFlowIntoFuture_0006_L', '000000_0010'.
_FRAME_NUMBER = re.compile(r'(\d+)\D*$')


def require_dir(path: str) -> str:
    """Return ``path`` if it is a folder, else raise FileNotFoundError naming it.

    Args:
        path (str): The folder a dataset layout needs.
    """
    if not osp.isdir(path):
        raise FileNotFoundError(f'dataset folder not found: {path}')
    return path


def index_frames(folder: str, suffix: str) -> Dict[int, str]:
    """The files of ``folder`` ending in ``suffix``, keyed by frame number.

    The frame number is the last number in the file's stem.

    Args:
        folder (str): The folder; FileNotFoundError names it if it is missing.
        suffix (str): File name ending, e.g. ``'.png'``.
    """
    frames = {}
    for name in os.listdir(require_dir(folder)):
        if not name.endswith(suffix):
            continue
        match = _FRAME_NUMBER.search(name[:-len(suffix)])
        if match:
            frames[int(match.group(1))] = osp.join(folder, name)
    return frames


def pair_frames(images: Dict[int, str],
                flows: Dict[int, str],
                step: int = 1) -> List[Tuple[str, str, str]]:
    """``(images[n], images[n + step], flows[n])`` for every frame ``n`` with
    all three, in frame order (``step=-1`` pairs backward flow).

    Args:
        images (dict[int, str]): Image files by frame number.
        flows (dict[int, str]): Flow files by frame number.
        step (int): Offset of the second frame. Defaults to 1.
    """
    return [(images[n], images[n + step], flows[n]) for n in sorted(flows)
            if n in images and n + step in images]


class BaseFlowDataset(BaseDataset):
    """Base of the datasets read from their published on-disk layouts.

    Subclasses implement :meth:`load_pairs`; this class checks ``data_root``,
    refuses a layout without a single pair (a wrong root or split would
    otherwise evaluate nothing) and turns the pairs into mmengine's
    ``data_list``.

    Args:
        data_root (str): Root folder of the dataset as it is unpacked.
        pipeline (list): Transforms (config dicts or callables).
        test_mode (bool): Selects the evaluation split where the dataset has
            one (as in mmflow). Defaults to False.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments
            (``indices``, ``serialize_data``, ``lazy_init``, ...).
    """

    #: Whether the ground truth is sparse (KITTI-style valid masks).
    SPARSE = False

    def __init__(self,
                 data_root: str,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            pipeline=list(pipeline),
            test_mode=test_mode,
            **kwargs)

    def load_pairs(self) -> List[Tuple[str, str, str]]:
        """List the ``(img1_path, img2_path, flow_fw_path)`` of every pair."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        """Build ``data_list`` from :meth:`load_pairs`."""
        require_dir(self.data_root)
        pairs = self.load_pairs()
        if not pairs:
            split = 'test' if self.test_mode else 'training'
            raise UserError(
                f'{type(self).__name__}: no {split} image pairs under '
                f'{self.data_root} (see its docstring for the expected layout)')
        return [
            dict(
                img1_path=img1,
                img2_path=img2,
                flow_fw_path=flow,
                sparse=self.SPARSE) for img1, img2, flow in pairs
        ]


class InMemoryFlowDataset(BaseDataset):
    """Base of the datasets whose pairs are made in memory, not read from files.

    ``data_list`` holds what identifies a pair plus placeholder ``img1_path`` /
    ``img2_path`` / ``flow_fw_path`` strings; :meth:`get_data_info` adds the
    arrays under the keys ``LoadImageFromFile`` and ``LoadAnnotations`` produce
    (``img1``, ``img2``, ``img_shape``, ``ori_shape``, ``gt_flow_fw``,
    ``gt_valid_fw``, ``sparse``). Pipelines therefore omit the two loaders.

    Args:
        pipeline (list): Transforms (config dicts or callables).
        test_mode (bool): Passed to :class:`mmengine.dataset.BaseDataset`.
            Defaults to False.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    #: Whether the ground truth is sparse (KITTI-style valid masks).
    SPARSE = False

    def __init__(self,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        super().__init__(pipeline=list(pipeline), test_mode=test_mode, **kwargs)

    def make_pair(
        self, data_info: dict
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Make ``(img1, img2, flow, valid)`` for one ``data_list`` entry.

        Images are uint8 BGR (H, W, 3); flow float32 (H, W, 2); valid (H, W).
        """
        raise NotImplementedError

    def get_data_info(self, idx: int) -> dict:
        """The ``idx``-th entry with its images and ground truth attached."""
        data_info = super().get_data_info(idx)
        img1, img2, flow, valid = self.make_pair(data_info)
        set_image_pair(data_info, img1, img2)
        set_flow_gt(data_info, flow, valid, sparse=self.SPARSE)
        return data_info
