"""LCV: the learnable cost volume ("Learnable Cost Volume Using the Cayley
Representation", Xiao et al., ECCV 2020).

The vanilla cost volume compares features by the dot product ``f1^T f2``; LCV uses
an elliptical inner product ``f1^T W f2`` with ``W`` symmetric positive definite,
parameterised spectrally as ``W = P^T D P``:

- ``P`` orthogonal through the Cayley transform of a skew-symmetric matrix:
  ``S = (triu(A) - triu(A)^T) / 2``, ``P = (I + S)(I - S)^-1``;
- ``D`` positive diagonal through a bounded map:
  ``t = atan(raw_D) * 2 / pi`` in (-1, 1), ``D = (1 + t) / (1 - t)``.

Because ``f1^T W f2 = (sqrt(D) P f1)^T (sqrt(D) P f2)``, only the feature
transform changes (:meth:`LearnableCostVolume.transform`): each feature map
gets one 1x1 transform by ``sqrt(D) P`` and the vanilla correlation (all-pairs
for RAFT, local for PWC-Net, or RAFT's on-demand windows) runs unchanged;
``features`` is wrapped only so that both maps share one solve. With
``raw_A = I`` and ``raw_D = 0`` the transform is the identity matrix exactly, so an LCV model
reproduces the vanilla model bit for bit, and vanilla checkpoints load with the
LCV parameters (``raw_A``, ``raw_D`` of each cost volume) as the only missing
keys.
"""
from contextlib import contextmanager
from typing import Iterator, Tuple

import torch
from torch import Tensor, nn

from mmext.registry import MODELS
from .cost_volumes import CostVolume

__all__ = ['LearnableCostVolume']

# The largest float64 below 1: t is clamped to [-_T_MAX, _T_MAX] (see
# LearnableCostVolume.factors).
_T_MAX = float(torch.nextafter(torch.tensor(1., dtype=torch.float64),
                               torch.tensor(0., dtype=torch.float64)))


@MODELS.register_module(name=['LearnableCostVolume', 'LCV'])
class LearnableCostVolume(CostVolume):
    """Cost volume ``f1^T W f2 / sqrt(C)`` with a learned SPD matrix ``W``.

    A drop-in replacement for :class:`DotProductCostVolume`: set the decoder's
    ``cost_volume=dict(type='LearnableCostVolume')`` (alias ``'LCV'``). RAFT
    builds one for its encoder's channels (the all-pairs volume, whose average
    pooling gives every pyramid level); PWC-Net builds one per decoded level.

    Cost per call of :meth:`all_pairs` / :meth:`local`: one C x C linear solve
    (the Cayley transform), shared by both feature maps, plus one (C x C) by
    (C x HW) product per feature map. The C x C algebra runs in float64: its
    cost does not grow with the image, and float64 keeps ``P`` orthogonal to
    ~1e-13 even when ``I - S`` is ill-conditioned (large learned ``A``).

    Exactness at initialisation holds wherever a product with the identity
    matrix is exact: on CPU, and on GPU unless TF32 matmuls are enabled.

    Args:
        channels (int): Number of feature channels C; ``raw_A`` is C x C and
            ``raw_D`` has C entries.
    """

    #: Vanilla checkpoints lack these; their initial values reproduce the
    #: vanilla model, so ``load_from`` accepts such checkpoints
    #: (mmext.engine.CheckpointFitHook).
    checkpoint_optional_keys = ('raw_A', 'raw_D')

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        # Only the strict upper triangle of raw_A enters S (the diagonal cancels
        # in triu(A) - triu(A)^T); identity is the reference initialisation.
        self.raw_A = nn.Parameter(torch.eye(channels))
        self.raw_D = nn.Parameter(torch.zeros(channels))
        # sqrt(D) P while a features() call runs, so that its two
        # transform() calls share one solve; None outside such a call.
        self._shared_matrix = None

    def extra_repr(self) -> str:
        return f'channels={self.channels}'

    def factors(self) -> Tuple[Tensor, Tensor]:
        """The orthogonal ``P`` (C, C) and the diagonal of ``D`` (C,), float64.

        ``P = (I - S)^-1 (I + S)``, which equals ``(I + S)(I - S)^-1`` because
        both factors are polynomials in ``S`` and commute. It is computed as
        the solution X of ``(I - S) X = I + S`` rather than by ``inv`` and a
        product: one LU factorisation with triangular solves is backward
        stable (the explicit inverse adds a second rounding of size
        cond(I - S) * eps), cheaper, and its backward solves with the same
        factors instead of differentiating an inverse. ``I - S`` is always
        invertible: ``(I - S)^T (I - S) = I + S^T S``, so its smallest
        singular value is at least 1. Hence ``torch.linalg.solve_ex``, the
        same solve as ``torch.linalg.solve`` without its singularity check,
        which could never fire and would cost a GPU-to-host synchronisation.

        ``t = atan(raw_D) * 2 / pi`` lies in (-1, 1) mathematically, but in
        floating point it rounds to exactly +-1 once ``|raw_D|`` exceeds about
        1e16, where ``(1 + t) / (1 - t)`` would become inf or 0. ``t`` is
        therefore clamped to the closest representable values inside the open
        interval, ``+-nextafter(1, 0)`` = ``+-(1 - 2^-53)``: the clamp is inactive
        wherever the map is representable, and beyond it D stays finite and
        positive (within [5.6e-17, 1.8e16]) for any ``raw_D``, infinities
        included. atan's gradient there (< 1e-32) is already zero in practice,
        so the clamp does not change training either.
        """
        A = self.raw_A.double()
        upper = torch.triu(A)
        S = (upper - upper.T) / 2
        eye = torch.eye(self.channels, dtype=A.dtype, device=A.device)
        P = torch.linalg.solve_ex(eye - S, eye + S)[0]
        t = torch.atan(self.raw_D.double()) * (2 / torch.pi)
        t = t.clamp(-_T_MAX, _T_MAX)
        return P, (1 + t) / (1 - t)

    def metric(self) -> Tensor:
        """The matrix ``W = P^T D P`` of the inner product, float64 (C, C)."""
        P, d = self.factors()
        return P.T @ (d[:, None] * P)

    def transform_matrix(self) -> Tensor:
        """``sqrt(D) P``, float64 (C, C): ``W = M^T M`` for this ``M``."""
        P, d = self.factors()
        return d.sqrt()[:, None] * P

    def transform(self, feat: Tensor) -> Tensor:
        """Apply ``sqrt(D) P`` to every pixel's feature vector (a 1x1 transform).

        Args:
            feat (Tensor): Features, shape (B, C, H, W).

        Returns:
            Tensor: Transformed features, same shape and dtype.
        """
        matrix = self._shared_matrix
        if matrix is None:
            matrix = self.transform_matrix()
        B, C, H, W = feat.shape
        out = torch.matmul(matrix.to(feat.dtype), feat.reshape(B, C, H * W))
        return out.view(B, C, H, W)

    @contextmanager
    def _one_solve(self) -> Iterator[None]:
        """Hold ``sqrt(D) P`` for the duration of one correlation call.

        The matrix lives only for that call, never across calls: a matrix kept
        from an earlier forward would carry an autograd graph that backward may
        already have freed, or none at all if it was made under no_grad.
        """
        if self._shared_matrix is not None:  # nested: the outer call holds it
            yield
            return
        self._shared_matrix = self.transform_matrix()
        try:
            yield
        finally:
            self._shared_matrix = None

    def features(self, feat1: Tensor,
                 feat2: Tensor) -> Tuple[Tensor, Tensor]:
        """:meth:`CostVolume.features` with one solve for both feature maps.

        ``all_pairs``, ``local`` and RAFT's memory-efficient lookup all
        transform through this method, so each pays one solve per call.
        """
        with self._one_solve():
            return super().features(feat1, feat2)
