"""Labeled / unlabeled data for semi-supervised training on mmpretrain.

* :class:`SemiSplitDataset` splits any single-label mmpretrain dataset into
  ``N`` labeled images per class (chosen as :class:`FewShotDataset` chooses
  k shots, so the supervised baseline trained on ``FewShotDataset`` with the
  same seed sees exactly the same labeled images) and the rest unlabeled,
  each part with its own pipeline.
* :class:`LabeledUnlabeledSampler` yields, for every step, a block of
  labeled indices then a block of unlabeled ones, each from its own endless
  seeded shuffle (the reference code's two repeated index lists).
* :func:`labeled_unlabeled_collate` turns such a block into
  ``dict(labeled=batch, unlabeled=batch)``, two ordinary mmpretrain batches.
* :class:`SaveLabeledSplitHook` writes the split to the work directory.

mmengine has no sampler or collate for two sources per batch (mmdet's
multi-source sampler would pull in mmdet), hence these small pieces.
"""
import itertools
import json
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Union

import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.dist import get_dist_info, is_main_process, sync_random_seed
from mmengine.hooks import Hook
from mmengine.registry import FUNCTIONS
from mmpretrain.registry import DATA_SAMPLERS, DATASETS, HOOKS
from torch.utils.data import Sampler

from mmext.errors import UserError
from ..datasets import FewShotDataset

__all__ = [
    'LabeledUnlabeledSampler', 'SemiSupervisedError', 'SaveLabeledSplitHook',
    'SemiSplitDataset', 'labeled_unlabeled_collate'
]

LABELED_KEY = 'labeled'


class SemiSupervisedError(UserError, ValueError):
    """A semi-supervised split, sampler, batch or model set up wrongly."""


@DATASETS.register_module()
class SemiSplitDataset:
    """``N`` labeled images per class and all the others unlabeled.

    Items ``0 .. num_labeled - 1`` are the labeled images, the following ones
    the unlabeled images, each passed through its part's pipeline and tagged
    with which part it is (read by :func:`labeled_unlabeled_collate`).
    Unlabeled items keep their annotation so that the training log can report
    the pseudo-label accuracy; no loss reads it.

    Args:
        dataset (dict | Dataset): The dataset to split, or its config. Its
            own pipeline is the default of both parts.
        num_labeled_per_class (int): ``N``.
        seed (int): Seed of the split; a seed gives the same split on every
            run and machine. Defaults to 0.
        labeled_pipeline (list[dict], optional): Pipeline of labeled images.
        unlabeled_pipeline (list[dict], optional): Pipeline of unlabeled
            images.
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 num_labeled_per_class: int,
                 seed: int = 0,
                 labeled_pipeline: Optional[List[dict]] = None,
                 unlabeled_pipeline: Optional[List[dict]] = None):
        self.dataset = (DATASETS.build(dataset)
                        if isinstance(dataset, dict) else dataset)
        self.num_labeled_per_class = num_labeled_per_class
        self.seed = seed
        try:
            labeled = FewShotDataset(self.dataset,
                                     shots=num_labeled_per_class,
                                     seed=seed)
        except ValueError as error:
            raise SemiSupervisedError(
                f'SemiSplitDataset: num_labeled_per_class='
                f'{num_labeled_per_class!r}: {error}') from None
        self.labeled_indices = list(labeled.indices)
        chosen = set(self.labeled_indices)
        self.unlabeled_indices = [
            i for i in range(len(self.dataset)) if i not in chosen
        ]
        if not self.unlabeled_indices:
            raise SemiSupervisedError(
                f'SemiSplitDataset: no unlabeled images left: '
                f'{num_labeled_per_class} per class takes all '
                f'{len(self.dataset)} images of '
                f'{type(self.dataset).__name__}')
        self.labeled_pipeline = self._pipeline(labeled_pipeline)
        self.unlabeled_pipeline = self._pipeline(unlabeled_pipeline)

    def _pipeline(self, transforms):
        return self.dataset.pipeline if transforms is None else Compose(
            transforms)

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information (classes, ...)."""
        return self.dataset.metainfo

    @property
    def num_labeled(self) -> int:
        return len(self.labeled_indices)

    @property
    def num_unlabeled(self) -> int:
        return len(self.unlabeled_indices)

    def __len__(self) -> int:
        return self.num_labeled + self.num_unlabeled

    def __getitem__(self, idx: int) -> dict:
        labeled = idx < self.num_labeled
        if labeled:
            source, pipeline = self.labeled_indices[idx], self.labeled_pipeline
        else:
            source = self.unlabeled_indices[idx - self.num_labeled]
            pipeline = self.unlabeled_pipeline
        item = pipeline(self.dataset.get_data_info(source))
        item[LABELED_KEY] = labeled
        return item

    def split(self) -> dict:
        """The split as indices into the wrapped dataset (JSON-ready)."""
        return dict(num_labeled_per_class=self.num_labeled_per_class,
                    seed=self.seed,
                    labeled=self.labeled_indices,
                    unlabeled=self.unlabeled_indices)


@DATA_SAMPLERS.register_module()
class LabeledUnlabeledSampler(Sampler):
    """Endless blocks of ``labeled_batch_size`` labeled indices followed by
    ``unlabeled_batch_size`` unlabeled indices of a :class:`SemiSplitDataset`.

    Each part is an endless sequence of seeded permutations; in distributed
    training each rank takes every ``world_size``-th index of both. The
    dataloader's ``batch_size`` must be the sum of the two sizes (the collate
    checks that every batch is exactly one block).

    Args:
        dataset (SemiSplitDataset): The split dataset.
        labeled_batch_size (int): Labeled images per batch.
        unlabeled_batch_size (int, optional): Unlabeled images per batch.
            Defaults to ``labeled_batch_size``, as in the paper.
        seed (int, optional): Shuffling seed; None draws one shared by all
            ranks.
    """

    def __init__(self,
                 dataset: SemiSplitDataset,
                 labeled_batch_size: int,
                 unlabeled_batch_size: Optional[int] = None,
                 seed: Optional[int] = None):
        if not isinstance(dataset, SemiSplitDataset):
            raise SemiSupervisedError(
                'LabeledUnlabeledSampler needs a SemiSplitDataset'
                f', got {type(dataset).__name__}')
        unlabeled_batch_size = unlabeled_batch_size or labeled_batch_size
        for name, size in (('labeled_batch_size', labeled_batch_size),
                           ('unlabeled_batch_size', unlabeled_batch_size)):
            if not isinstance(size, int) or size < 1:
                raise SemiSupervisedError(
                    f'LabeledUnlabeledSampler: {name} must be a '
                    f'positive int, got {size!r}')
        self.dataset = dataset
        self.labeled_batch_size = labeled_batch_size
        self.unlabeled_batch_size = unlabeled_batch_size
        self.seed = sync_random_seed() if seed is None else seed
        self.rank, self.world_size = get_dist_info()

    def _endless(self, size: int, offset: int, seed: int) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(seed)
        while True:
            for i in torch.randperm(size, generator=generator).tolist():
                yield offset + i

    def _of_rank(self, indices: Iterator[int]) -> Iterator[int]:
        return itertools.islice(indices, self.rank, None, self.world_size)

    def __iter__(self) -> Iterator[int]:
        labeled = self._of_rank(
            self._endless(self.dataset.num_labeled, 0, self.seed))
        unlabeled = self._of_rank(
            self._endless(self.dataset.num_unlabeled, self.dataset.num_labeled,
                          self.seed + 1))
        while True:
            yield from itertools.islice(labeled, self.labeled_batch_size)
            yield from itertools.islice(unlabeled, self.unlabeled_batch_size)

    def __len__(self) -> int:
        return len(self.dataset)


@FUNCTIONS.register_module()
def labeled_unlabeled_collate(data_batch: Sequence[dict]) -> dict:
    """One :class:`LabeledUnlabeledSampler` block -> two mmpretrain batches.

    Returns:
        dict: ``labeled`` and ``unlabeled``, each collated by mmengine's
        ``pseudo_collate`` (lists of inputs and data samples).
    """
    flags = [item[LABELED_KEY] for item in data_batch]
    num_labeled = sum(flags)
    if not (0 < num_labeled < len(flags)) or any(flags[num_labeled:]):
        raise SemiSupervisedError(
            'labeled_unlabeled_collate: a batch is not one block of labeled '
            'then unlabeled images: set train_dataloader.batch_size to '
            'labeled_batch_size + unlabeled_batch_size of '
            'LabeledUnlabeledSampler')
    items = [{
        k: v
        for k, v in item.items() if k != LABELED_KEY
    } for item in data_batch]
    return dict(labeled=pseudo_collate(items[:num_labeled]),
                unlabeled=pseudo_collate(items[num_labeled:]))


@HOOKS.register_module()
class SaveLabeledSplitHook(Hook):
    """Write the labeled split of the training set to the work directory.

    Finds a :class:`SemiSplitDataset` (labeled and unlabeled indices) or a
    :class:`FewShotDataset` (labeled indices, for the supervised baseline)
    in ``train_dataloader.dataset`` or the datasets it wraps.

    Args:
        filename (str): Written in ``work_dir``. Defaults to
            ``'labeled_split.json'``.
    """

    def __init__(self, filename: str = 'labeled_split.json'):
        self.filename = filename

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        while not isinstance(dataset, (SemiSplitDataset, FewShotDataset)):
            if not hasattr(dataset, 'dataset'):
                raise SemiSupervisedError(
                    'SaveLabeledSplitHook: train_dataloader.dataset holds no '
                    'SemiSplitDataset or FewShotDataset')
            dataset = dataset.dataset
        if isinstance(dataset, SemiSplitDataset):
            split = dataset.split()
        else:
            split = dict(num_labeled_per_class=dataset.shots,
                         seed=dataset.seed,
                         labeled=list(dataset.indices))
        if is_main_process():
            path = osp.join(runner.work_dir, self.filename)
            with open(path, 'w') as f:
                json.dump(split, f)
            runner.logger.info(
                f'{len(split["labeled"])} labeled images; split written to '
                f'{path}')
