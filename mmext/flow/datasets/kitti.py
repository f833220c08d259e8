"""KITTI flow 2012 (Geiger et al., CVPR 2012) and 2015 (Menze & Geiger, 2015)."""
import os
import os.path as osp
from typing import List, Tuple

from mmext.registry import DATASETS
from .base import BaseFlowDataset, require_dir

__all__ = ['KITTI2012', 'KITTI2015']

_FIRST, _SECOND = '_10.png', '_11.png'


class _KITTIFlow(BaseFlowDataset):
    """A KITTI training set: ``training/{IMAGE_DIR}/xxxxxx_10.png`` and
    ``_11.png``, sparse flow in ``training/flow_occ/xxxxxx_10.png``.

    ``test_mode`` does not change the pairs (only training has ground truth).

    Args:
        data_root (str): The folder holding ``training/``.
        **kwargs: Other :class:`~.base.BaseFlowDataset` arguments.
    """

    SPARSE = True
    IMAGE_DIR = ''

    def load_pairs(self) -> List[Tuple[str, str, str]]:
        """One pair per ground-truth file, in name order."""
        image_dir = require_dir(
            osp.join(self.data_root, 'training', self.IMAGE_DIR))
        flow_dir = require_dir(osp.join(self.data_root, 'training', 'flow_occ'))
        stems = sorted(name[:-len(_FIRST)] for name in os.listdir(flow_dir)
                       if name.endswith(_FIRST))
        return [(osp.join(image_dir, stem + _FIRST),
                 osp.join(image_dir, stem + _SECOND),
                 osp.join(flow_dir, stem + _FIRST)) for stem in stems]


@DATASETS.register_module()
class KITTI2012(_KITTIFlow):
    """KITTI flow 2012 training set (left colour images in ``colored_0``).
    See :class:`_KITTIFlow`.

    Args:
        data_root (str): The folder holding ``training/``.
        **kwargs: Other :class:`~.base.BaseFlowDataset` arguments.
    """

    IMAGE_DIR = 'colored_0'


@DATASETS.register_module()
class KITTI2015(_KITTIFlow):
    """KITTI flow 2015 training set (left colour images in ``image_2``).
    See :class:`_KITTIFlow`.

    Args:
        data_root (str): The folder holding ``training/``.
        **kwargs: Other :class:`~.base.BaseFlowDataset` arguments.
    """

    IMAGE_DIR = 'image_2'
