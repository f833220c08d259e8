"""The perceptual reconstruction loss of the adversary (the pixel loss is
mmpretrain's ``PixelReconstructionLoss(criterion='L2')``).

It compares a frozen mmpretrain backbone's features of
the reconstruction and of the image. mmagic's ``PerceptualLoss`` is tied to a
torchvision VGG whose weights it downloads; here any mmpretrain backbone with
weights from a local file measures the distance, at the stages the config
names.
"""
import os.path as osp
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import nn

from mmext.checkpoint import CheckpointError, load_local_checkpoint
from mmext.errors import BadValueError

__all__ = ['PerceptualDistance']


@MODELS.register_module()
class PerceptualDistance(nn.Module):
    """Feature distance in a fixed network: the mean squared difference of a
    frozen mmpretrain backbone's outputs at ``layers``, weighted and summed.

    The network sees the images exactly as the classifier does (after its
    data preprocessor), so its weights must come from a model trained on
    images normalised the same way. It stays in eval mode and receives no
    gradient; gradients flow through it to the reconstruction only.

    Args:
        backbone (dict): mmpretrain backbone config; its ``out_indices`` are
            replaced by ``layers``.
        checkpoint (str): Local weights file: an mmengine/mmpretrain
            checkpoint or a plain state dict.
        layers (Sequence[int]): Backbone stages whose outputs are compared.
            Defaults to ``(0, 1)``.
        layer_weights (Sequence[float], optional): One weight per layer.
            Defaults to 1 for each.
        prefix (str): Key prefix of the backbone's weights in the file
            (``'backbone.'`` for a classifier checkpoint, ``''`` for a
            backbone-only file). Defaults to ``'backbone.'``.
        loss_weight (float): Multiplies the distance. Defaults to 1.0.

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        CheckpointError: The file has no weights under ``prefix`` that fit.
    """

    def __init__(self,
                 backbone: dict,
                 checkpoint: str,
                 layers: Sequence[int] = (0, 1),
                 layer_weights: Optional[Sequence[float]] = None,
                 prefix: str = 'backbone.',
                 loss_weight: float = 1.0):
        super().__init__()
        if not checkpoint or not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'PerceptualDistance needs the weights of its fixed feature '
                f'network: checkpoint={checkpoint!r} is not a file (set '
                'checkpoint= to a local .pth of a trained '
                f'{backbone.get("type")!r})'
            )
        self.layers = tuple(layers)
        self.layer_weights = tuple(layer_weights or [1.0] * len(self.layers))
        if len(self.layer_weights) != len(self.layers):
            raise BadValueError(
                f'layer_weights has {len(self.layer_weights)} entries for '
                f'{len(self.layers)} layers')
        self.loss_weight = loss_weight
        self.network = MODELS.build(dict(backbone, out_indices=self.layers))
        self._load(checkpoint, prefix)
        self.network.requires_grad_(False)
        self.network.eval()

    def _load(self, checkpoint: str, prefix: str):
        state = load_local_checkpoint(checkpoint, map_location='cpu')
        state = state.get('state_dict', state)
        weights = {
            key[len(prefix):]: value
            for key, value in state.items() if key.startswith(prefix)
        }
        try:
            self.network.load_state_dict(weights, strict=True)
        except RuntimeError as error:
            first = str(error).strip().splitlines()[0]
            raise CheckpointError(
                f'{checkpoint} has no weights under prefix {prefix!r} that '
                f'fit the perceptual network ({first})') from None

    def train(self, mode: bool = True):
        # The feature network is fixed, including its normalisation layers.
        super().train(mode)
        self.network.eval()
        return self

    def forward(self, reconstruction: torch.Tensor,
                image: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            targets = self.network(image)
        features = self.network(reconstruction)
        distance = sum(weight * F.mse_loss(feature, target)
                       for weight, feature, target in zip(
                           self.layer_weights, features, targets))
        return self.loss_weight * distance
