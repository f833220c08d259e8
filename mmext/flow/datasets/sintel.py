"""MPI Sintel (Butler et al., ECCV 2012)."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

from mmext.registry import DATASETS
from .base import BaseFlowDataset, index_frames, pair_frames, require_dir

__all__ = ['Sintel']


@DATASETS.register_module()
class Sintel(BaseFlowDataset):
    """MPI Sintel training set (the only part with ground truth).

    Layout::

        data_root/training/{clean,final}/{scene}/frame_0001.png, ...
        data_root/training/flow/{scene}/frame_0001.flo, ...

    Frame ``n``'s flow pairs frames ``n`` and ``n + 1``. ``test_mode`` does not
    change the pairs (mmflow evaluates on the training set too).

    Args:
        data_root (str): The folder holding ``training/``.
        pass_style (str): 'clean' or 'final'. Defaults to 'clean'.
        scene (str | list[str], optional): Scene folder(s) to read; None reads
            every scene. Defaults to None.
        **kwargs: Other :class:`~.base.BaseFlowDataset` arguments.
    """

    def __init__(self,
                 data_root: str,
                 pass_style: str = 'clean',
                 scene: Optional[Union[str, Sequence[str]]] = None,
                 **kwargs) -> None:
        if pass_style not in ('clean', 'final'):
            raise ValueError("pass_style must be 'clean' or 'final', got "
                             f'{pass_style!r}')
        self.pass_style = pass_style
        self.scene = (scene, ) if isinstance(scene, str) else scene
        super().__init__(data_root=data_root, **kwargs)

    def load_pairs(self) -> List[Tuple[str, str, str]]:
        """Pairs of the selected scenes, scene by scene in name order."""
        image_root = require_dir(
            osp.join(self.data_root, 'training', self.pass_style))
        flow_root = require_dir(osp.join(self.data_root, 'training', 'flow'))
        scenes = self.scene
        if scenes is None:
            scenes = sorted(name for name in os.listdir(image_root)
                            if osp.isdir(osp.join(image_root, name)))
        pairs = []
        for scene in scenes:
            pairs += pair_frames(
                index_frames(osp.join(image_root, scene), '.png'),
                index_frames(osp.join(flow_root, scene), '.flo'))
        return pairs
