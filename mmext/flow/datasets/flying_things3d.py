"""FlyingThings3D (Mayer et al., CVPR 2016): the full release and its subset."""
import os.path as osp
from glob import glob
from typing import List, Sequence, Tuple, Union

from mmext.registry import DATASETS
from .base import BaseFlowDataset, index_frames, pair_frames, require_dir

__all__ = ['FlyingThings3D', 'FlyingThings3DSubset']

_DIRECTIONS = ('forward', 'backward')


def _as_tuple(value: Union[str, Sequence[str]], allowed: Sequence[str],
              name: str) -> Tuple[str, ...]:
    values = (value, ) if isinstance(value, str) else tuple(value)
    unknown = set(values) - set(allowed)
    if unknown or not values:
        raise ValueError(f'{name} must be some of {tuple(allowed)}, '
                         f'got {value!r}')
    return values


class _ThingsBase(BaseFlowDataset):
    """Arguments shared by the two FlyingThings3D layouts.

    Args:
        data_root (str): Root folder of the release.
        pass_style (str): 'clean' or 'final' rendering.
        scene (str | list[str]): Camera(s), 'left' and/or 'right'.
        direction (str | list[str]): 'forward' pairs frame ``n`` with ``n + 1``
            (flow into the future), 'backward' pairs ``n + 1`` with ``n``
            (flow into the past); both by default, as mmflow. The flow is
            always the one from ``img1`` to ``img2`` (``flow_fw_path``).
        test_mode (bool): False reads the training part, True the test/val
            part. Defaults to False.
        **kwargs: Other :class:`~.base.BaseFlowDataset` arguments.
    """

    def __init__(self,
                 data_root: str,
                 pass_style: str = 'clean',
                 scene: Union[str, Sequence[str]] = ('left', 'right'),
                 direction: Union[str, Sequence[str]] = _DIRECTIONS,
                 **kwargs) -> None:
        if pass_style not in ('clean', 'final'):
            raise ValueError("pass_style must be 'clean' or 'final', got "
                             f'{pass_style!r}')
        self.pass_style = pass_style
        self.scene = _as_tuple(scene, ('left', 'right'), 'scene')
        self.direction = _as_tuple(direction, _DIRECTIONS, 'direction')
        super().__init__(data_root=data_root, **kwargs)

    def _pairs(self, image_dir: str, forward_dir: str, backward_dir: str,
               flow_suffix: str) -> List[Tuple[str, str, str]]:
        """Pairs of one frame sequence in the requested directions."""
        images = index_frames(image_dir, '.png')
        pairs = []
        if 'forward' in self.direction:
            pairs += pair_frames(images, index_frames(forward_dir, flow_suffix))
        if 'backward' in self.direction:
            pairs += pair_frames(
                images, index_frames(backward_dir, flow_suffix), step=-1)
        return pairs


@DATASETS.register_module()
class FlyingThings3D(_ThingsBase):
    """The full FlyingThings3D release (``.pfm`` flow), as RAFT trains on it.

    Layout (``{part}`` is TRAIN, or TEST in test mode; ``{X}`` is L or R)::

        data_root/frames_{clean,final}pass/{part}/{A,B,C}/0000/{left,right}/0006.png
        data_root/optical_flow/{part}/{A,B,C}/0000/into_future/{left,right}/
            OpticalFlowIntoFuture_0006_{X}.pfm   (into_past: OpticalFlowIntoPast)

    Args:
        data_root (str): Root folder of the release.
        scene (str | list[str]): Camera(s), 'left' and/or 'right'. Defaults to
            'left', mmflow's (and RAFT's) choice.
        **kwargs: ``pass_style``, ``direction`` and ``test_mode`` (see
            :class:`_ThingsBase`) and other :class:`~.base.BaseFlowDataset`
            arguments.
    """

    def __init__(self,
                 data_root: str,
                 scene: Union[str, Sequence[str]] = 'left',
                 **kwargs) -> None:
        super().__init__(data_root=data_root, scene=scene, **kwargs)

    def load_pairs(self) -> List[Tuple[str, str, str]]:
        """Pairs of every sequence of the selected part, pass and cameras."""
        part = 'TEST' if self.test_mode else 'TRAIN'
        frames_root = require_dir(
            osp.join(self.data_root, f'frames_{self.pass_style}pass', part))
        flow_root = require_dir(osp.join(self.data_root, 'optical_flow', part))
        pairs = []
        for sequence in sorted(glob(osp.join(frames_root, '*', '*'))):
            flow_dir = osp.join(flow_root,
                                osp.relpath(sequence, frames_root))
            for camera in self.scene:
                pairs += self._pairs(
                    osp.join(sequence, camera),
                    osp.join(flow_dir, 'into_future', camera),
                    osp.join(flow_dir, 'into_past', camera), '.pfm')
        return pairs


@DATASETS.register_module()
class FlyingThings3DSubset(_ThingsBase):
    """The FlyingThings3D subset (``.flo`` flow; FlowNet2's "things subset").

    Layout (``{part}`` is train, or val in test mode)::

        data_root/{part}/image_{clean,final}/{left,right}/0000000.png
        data_root/{part}/flow/{left,right}/{into_future,into_past}/0000000.flo

    A few subset flow files hold NaN; they load with those pixels invalid
    (mmflow instead skipped a hard-coded list of files).

    Args:
        data_root (str): Root folder holding ``train/`` and ``val/``.
        **kwargs: ``pass_style``, ``scene`` (default both cameras, as mmflow),
            ``direction`` and ``test_mode`` (see :class:`_ThingsBase`) and
            other :class:`~.base.BaseFlowDataset` arguments.
    """

    def load_pairs(self) -> List[Tuple[str, str, str]]:
        """Pairs of the selected part, pass and cameras."""
        part = osp.join(self.data_root, 'val' if self.test_mode else 'train')
        image_root = require_dir(osp.join(part, f'image_{self.pass_style}'))
        flow_root = require_dir(osp.join(part, 'flow'))
        pairs = []
        for camera in self.scene:
            pairs += self._pairs(
                osp.join(image_root, camera),
                osp.join(flow_root, camera, 'into_future'),
                osp.join(flow_root, camera, 'into_past'), '.flo')
        return pairs
