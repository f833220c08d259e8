"""k-shot subsets of classification datasets."""
import copy
from typing import List, Union

import numpy as np
from mmengine.dataset import force_full_init
from mmpretrain.registry import DATASETS

__all__ = ['FewShotDataset']


@DATASETS.register_module()
class FewShotDataset:
    """Exactly ``shots`` images of every class of a single-label dataset.

    Wraps any mmpretrain dataset (ImageNet, StanfordCars, CIFAR, folder
    datasets, ...). The choice depends only on ``seed`` and the labels of the
    wrapped dataset: for every class the images are put in a random order
    drawn from the seed, and the first ``shots`` are kept. So one seed gives
    the same subset on every run and machine, different seeds give different
    subsets, and for one seed the k-shot subset is contained in the k'-shot
    subset for k < k' (shots can be compared on nested data). The kept images
    are served in the wrapped dataset's order. A class with fewer than
    ``shots`` images is an error, not a silently smaller class.

    Args:
        dataset (dict | Dataset): The dataset, or its config.
        shots (int): Images kept per class (k).
        seed (int): Seed of the choice. Defaults to 0.
        lazy_init (bool): Defer loading the annotations (and choosing) until
            :meth:`full_init`. Defaults to False.
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 shots: int,
                 seed: int = 0,
                 lazy_init: bool = False):
        if not isinstance(shots, int) or shots < 1:
            raise ValueError(f'shots must be a positive int, got {shots!r}')
        self.dataset = (
            DATASETS.build(dataset) if isinstance(dataset, dict) else dataset)
        self.shots = shots
        self.seed = seed
        self._metainfo = self.dataset.metainfo
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information (classes, ...)."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Load the wrapped dataset and choose the k-shot indices."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        self._labels = self._single_labels()
        self.indices = self._choose(self._labels)
        self._fully_initialized = True

    def _single_labels(self) -> np.ndarray:
        labels = []
        for i in range(len(self.dataset)):
            ids = (self.dataset.get_cat_ids(i) if hasattr(
                self.dataset, 'get_cat_ids') else
                   np.atleast_1d(self.dataset.get_data_info(i)['gt_label']))
            if len(ids) != 1:
                raise ValueError(
                    'FewShotDataset needs one label per image; image '
                    f'{i} has {len(ids)}')
            labels.append(int(ids[0]))
        return np.asarray(labels, dtype=np.int64)

    def _choose(self, labels: np.ndarray) -> List[int]:
        classes = self._metainfo.get('classes')
        num_classes = len(classes) if classes else int(labels.max()) + 1
        rng = np.random.default_rng(self.seed)
        chosen, short = [], []
        for c in range(num_classes):
            members = np.flatnonzero(labels == c)
            # A full permutation per class, whatever the shots: this keeps the
            # draws of later classes, and so nesting across k, independent
            # of k.
            order = rng.permutation(members)
            if len(members) < self.shots:
                short.append(
                    f'{classes[c] if classes else c!r} ({len(members)})')
            chosen.extend(order[:self.shots].tolist())
        if short:
            raise ValueError(
                f'FewShotDataset: {len(short)} class(es) have fewer than '
                f'{self.shots} images: {", ".join(short[:10])}')
        return sorted(chosen)

    @force_full_init
    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: int) -> dict:
        self.full_init()
        return self.dataset[self.indices[idx]]

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The wrapped dataset's annotation of the ``idx``-th kept image."""
        return self.dataset.get_data_info(self.indices[idx])

    @force_full_init
    def get_cat_ids(self, idx: int) -> List[int]:
        """The label of the ``idx``-th kept image, as a one-element list."""
        return [int(self._labels[self.indices[idx]])]

    @force_full_init
    def get_gt_labels(self) -> np.ndarray:
        """The labels of all kept images."""
        return self._labels[self.indices]
