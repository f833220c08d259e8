"""SVHN (cropped digits) as an mmpretrain dataset; mmpretrain has none."""
import os.path as osp

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

__all__ = ['SVHN']


@DATASETS.register_module()
class SVHN(BaseDataset):
    """The Street View House Numbers, format 2 (32x32 crops).

    Reads the official ``{split}_32x32.mat`` files (as torchvision downloads
    them) with scipy: ``X`` is 32x32x3xN uint8, ``y`` is Nx1 with 10 for the
    digit 0 (mapped to class 0 here).

    Args:
        data_root (str): Folder holding ``train_32x32.mat``,
            ``test_32x32.mat`` / ``extra_32x32.mat``.
        split (str): ``'train'``, ``'test'`` or ``'extra'``.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`.
    """

    METAINFO = {'classes': tuple(str(d) for d in range(10))}

    def __init__(self, data_root, split='train', **kwargs):
        if split not in ('train', 'test', 'extra'):
            raise ValueError(f"SVHN split must be 'train', 'test' or 'extra', "
                             f'got {split!r}')
        self.split = split
        kwargs.setdefault('ann_file', '')
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self):
        from scipy.io import loadmat
        path = osp.join(self.data_root, f'{self.split}_32x32.mat')
        if not osp.isfile(path):
            raise FileNotFoundError(f'SVHN: {path} not found')
        mat = loadmat(path)
        images = np.ascontiguousarray(mat['X'].transpose(3, 0, 1, 2))
        labels = mat['y'].reshape(-1).astype(np.int64) % 10
        return [
            dict(img=img, gt_label=int(label))
            for img, label in zip(images, labels)
        ]
