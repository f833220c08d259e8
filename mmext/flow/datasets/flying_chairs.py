"""FlyingChairs (Dosovitskiy et al., FlowNet, ICCV 2015)."""
import os.path as osp
from glob import glob
from typing import List, Tuple

import numpy as np

from mmext.registry import DATASETS
from .base import BaseFlowDataset, require_dir

__all__ = ['FlyingChairs']

_IMG1, _IMG2, _FLOW = '_img1.ppm', '_img2.ppm', '_flow.flo'


@DATASETS.register_module()
class FlyingChairs(BaseFlowDataset):
    """FlyingChairs as unpacked from ``FlyingChairs.zip``.

    Layout::

        data_root/data/00001_img1.ppm, 00001_img2.ppm, 00001_flow.flo, ...
        data_root/FlyingChairs_train_val.txt

    Line ``i`` of the split file belongs to the ``i``-th pair in sorted order:
    1 for training, 2 for validation. The flow is dense.

    Args:
        data_root (str): The folder holding ``data/``.
        split_file (str): The split file. A relative path is looked up under
            ``data_root`` first, then as given (mmflow configs give it relative
            to the working directory). Defaults to 'FlyingChairs_train_val.txt'.
        test_mode (bool): False reads the training pairs, True the validation
            pairs (as mmflow). Defaults to False.
        **kwargs: Other :class:`~.base.BaseFlowDataset` arguments.
    """

    def __init__(self,
                 data_root: str,
                 split_file: str = 'FlyingChairs_train_val.txt',
                 **kwargs) -> None:
        self.split_file = split_file
        super().__init__(data_root=data_root, **kwargs)

    def _find_split_file(self) -> str:
        candidates = [self.split_file]
        if not osp.isabs(self.split_file):
            candidates.insert(0, osp.join(self.data_root, self.split_file))
        for path in candidates:
            if osp.isfile(path):
                return path
        raise FileNotFoundError('FlyingChairs split file not found: ' +
                                ' or '.join(candidates))

    def load_pairs(self) -> List[Tuple[str, str, str]]:
        """Pairs of the split ``test_mode`` selects."""
        data_dir = require_dir(osp.join(self.data_root, 'data'))
        split_file = self._find_split_file()
        split = np.loadtxt(split_file, dtype=np.int64, ndmin=1)
        stems = sorted(p[:-len(_FLOW)]
                       for p in glob(osp.join(data_dir, '*' + _FLOW)))
        for suffix in (_IMG1, _IMG2):
            found = {p[:-len(suffix)]
                     for p in glob(osp.join(data_dir, '*' + suffix))}
            missing = sorted(set(stems) - found)
            if missing:
                raise FileNotFoundError(
                    f'{len(missing)} FlyingChairs images missing, e.g. '
                    f'{missing[0] + suffix}')
        if len(split) != len(stems):
            raise ValueError(
                f'{split_file} has {len(split)} lines but {data_dir} holds '
                f'{len(stems)} flow files')
        wanted = 2 if self.test_mode else 1
        return [(stem + _IMG1, stem + _IMG2, stem + _FLOW)
                for stem, part in zip(stems, split) if part == wanted]
