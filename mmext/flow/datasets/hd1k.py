"""HD1K benchmark (Kondermann et al., CVPRW 2016)."""
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Tuple

from mmext.registry import DATASETS
from .base import BaseFlowDataset, pair_frames, require_dir

__all__ = ['HD1K']


def _index_sequences(folder: str) -> Dict[str, Dict[int, str]]:
    """``{sequence: {frame: path}}`` of the ``SSSSSS_FFFF.png`` files."""
    sequences = defaultdict(dict)
    for name in os.listdir(require_dir(folder)):
        stem, ext = osp.splitext(name)
        sequence, _, frame = stem.partition('_')
        if ext == '.png' and frame.isdigit():
            sequences[sequence][int(frame)] = osp.join(folder, name)
    return sequences


@DATASETS.register_module()
class HD1K(BaseFlowDataset):
    """HD1K training data, sparse KITTI-format ground truth.

    Layout (sequence ``SSSSSS``, frame ``FFFF``)::

        data_root/hd1k_input/image_2/SSSSSS_FFFF.png
        data_root/hd1k_flow_gt/flow_occ/SSSSSS_FFFF.png

    Frame ``n``'s flow pairs frames ``n`` and ``n + 1`` of its sequence.
    ``test_mode`` does not change the pairs.

    Args:
        data_root (str): The folder holding ``hd1k_input`` and ``hd1k_flow_gt``.
        **kwargs: Other :class:`~.base.BaseFlowDataset` arguments.
    """

    SPARSE = True

    def load_pairs(self) -> List[Tuple[str, str, str]]:
        """Pairs of every sequence, in sequence then frame order."""
        images = _index_sequences(
            osp.join(self.data_root, 'hd1k_input', 'image_2'))
        flows = _index_sequences(
            osp.join(self.data_root, 'hd1k_flow_gt', 'flow_occ'))
        pairs = []
        for sequence in sorted(flows):
            pairs += pair_frames(images.get(sequence, {}), flows[sequence])
        return pairs
