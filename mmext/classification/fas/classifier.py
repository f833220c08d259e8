"""The FAS classifier: mmpretrain's ImageClassifier plus the adapters' cosine
loss and a choice of which parameters train (the two training stages)."""
import fnmatch
from typing import List, Optional, Sequence

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

__all__ = ['FASClassifier']


@MODELS.register_module()
class FASClassifier(ImageClassifier):
    """ImageClassifier whose loss includes the ensemble adapters' cosine loss
    and whose trainable parameters are chosen by name.

    Stage 1 trains the head on a frozen ViT (``trainable=['head.*']``);
    stage 2 trains only adapters and FWT (``trainable=['*adapter*',
    '*.fwt.*']``). Frozen parameters get ``requires_grad=False``, so the
    optimizer never sees a gradient for them (mmengine's paramwise
    ``lr_mult=0`` would still compute and decay them).

    Args:
        cosine_loss_weight (float): Weight of the backbone's cosine loss in
            the total loss (0.03 for CASIA / Replay targets, 1 for MSU /
            OULU in the paper); 0 leaves it out. Needs a backbone with a
            ``cosine_loss()`` method (``AdaptiveVisionTransformer``).
        trainable (list[str], optional): fnmatch patterns of parameter names
            that train; ``None`` trains everything.
        *args, **kwargs: Those of mmpretrain's ``ImageClassifier``.
    """

    def __init__(self,
                 *args,
                 cosine_loss_weight: float = 0.,
                 trainable: Optional[Sequence[str]] = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        if cosine_loss_weight and not hasattr(self.backbone, 'cosine_loss'):
            raise ValueError(
                f'cosine_loss_weight={cosine_loss_weight} needs a backbone '
                f'with adapters; {type(self.backbone).__name__} has none')
        self.cosine_loss_weight = cosine_loss_weight
        if trainable is not None:
            self._train_only(list(trainable))

    def _train_only(self, patterns: List[str]):
        names = [name for name, _ in self.named_parameters()]
        for pattern in patterns:
            if not fnmatch.filter(names, pattern):
                raise ValueError(
                    f'trainable pattern {pattern!r} matches no parameter of '
                    f'{type(self.backbone).__name__} + '
                    f'{type(self.head).__name__}')
        for name, param in self.named_parameters():
            param.requires_grad = any(
                fnmatch.fnmatch(name, p) for p in patterns)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        losses = super().loss(inputs, data_samples)
        if self.cosine_loss_weight:
            losses['loss_cos'] = (self.cosine_loss_weight *
                                  self.backbone.cosine_loss())
        return losses
