"""Domain-balanced batches: every step, each domain gives the same number of
live and spoof frames (3 + 3 in the paper)."""
from typing import Iterator, Optional

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from .datasets import FASDataError

__all__ = ['DomainBalancedSampler']


@DATA_SAMPLERS.register_module()
class DomainBalancedSampler(Sampler):
    """An endless sampler whose every ``batch_size`` consecutive indices hold
    ``num_live`` live and ``num_spoof`` spoof frames of each domain.

    Set the dataloader's ``batch_size`` to ``(num_live + num_spoof) x
    number of domains`` (:attr:`batch_size`). mmengine's samplers draw
    without regard to labels or domains, so none of them can do this. Each
    (domain, label) pool is walked in a fresh random order, then reshuffled
    when used up, as the reference's per-domain loaders are. Under
    distributed training each rank draws its own stream.

    Args:
        dataset: A dataset whose ``get_data_info(i)`` has ``domain`` and
            ``gt_label`` (e.g. FASFrameDataset, or a ConcatDataset of them).
        num_live (int): Live frames per domain per batch.
        num_spoof (int): Spoof frames per domain per batch.
        seed (int, optional): Random seed (synchronised across ranks).
    """

    def __init__(self,
                 dataset,
                 num_live: int = 3,
                 num_spoof: int = 3,
                 seed: Optional[int] = None):
        self.dataset = dataset
        self.num_live = num_live
        self.num_spoof = num_spoof
        self.rank, _ = get_dist_info()
        self.seed = sync_random_seed() if seed is None else seed
        pools = {}
        for index in range(len(dataset)):
            info = dataset.get_data_info(index)
            pools.setdefault((info['domain'], int(info['gt_label'])),
                             []).append(index)
        self.domains = sorted({domain for domain, _ in pools})
        for domain in self.domains:
            for label, count in ((1, num_live), (0, num_spoof)):
                if count and not pools.get((domain, label)):
                    raise FASDataError(
                        f'domain {domain!r} has no '
                        f"{'live' if label else 'spoof'} frames to sample")
        self.pools = pools

    @property
    def batch_size(self) -> int:
        """The batch size this sampler is balanced for."""
        return (self.num_live + self.num_spoof) * len(self.domains)

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng(self.seed + self.rank)
        streams = {
            key: self._endless(rng, pool)
            for key, pool in self.pools.items()
        }
        while True:
            for domain in self.domains:
                for label, count in ((1, self.num_live), (0, self.num_spoof)):
                    for _ in range(count):
                        yield next(streams[(domain, label)])

    @staticmethod
    def _endless(rng, pool):
        while True:
            yield from (pool[i] for i in rng.permutation(len(pool)))

    def __len__(self) -> int:
        return len(self.dataset)
