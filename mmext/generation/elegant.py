"""ELEGANT: Exchanging Latent Encodings with GAN for Transferring multiple face
attributes (Xiao, Hong and Ma, ECCV 2018, arXiv 1803.10562).

The file follows the paper's Figure 2 from left to right: A (has attribute
``i``) and B (lacks it) are encoded; their latent codes are split into one
chunk per attribute and chunk ``i`` is exchanged, giving the codes of C (A
without ``i``) and D (B with ``i``); the decoder turns a code, next to the
image's own code and encoder skips, into a residual image added to the input;
two discriminators at full and half resolution, conditioned on the labels,
judge A and B as real and C and D as fake.
"""
from typing import Dict, List, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmagic.models.utils import set_requires_grad
from mmagic.registry import MODELS
from mmengine.model import BaseModule
from mmengine.optim import OptimWrapperDict
from torch import Tensor

from .base import (AttributeExchangeGAN, concat_label_maps, exchange_labels,
                   init_normal)

__all__ = [
    'Normalization', 'attribute_chunks', 'exchange', 'ELEGANTGenerator',
    'ELEGANTDiscriminator', 'ELEGANT'
]


class Normalization(nn.Module):
    """ELEGANT's normalisation layer: each pixel's feature vector scaled to
    unit L2 norm over the channels, then ``alpha * x + beta`` with two
    learnable scalars (1 and 0 at start). Unlike batch norm it does not mix
    the images of a batch, so an image's edit does not depend on its
    batch-mates.

    Args:
        eps (float): Guards the division for all-zero features. Defaults to
            1e-12 (as :func:`torch.nn.functional.normalize`).
    """

    def __init__(self, eps: float = 1e-12):
        super().__init__()
        self.eps = eps
        self.alpha = nn.Parameter(torch.ones(1))
        self.beta = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=1, eps=self.eps) * self.alpha + self.beta


# ---------------------------------------------------------------------------
# The exchange of latent chunks
# ---------------------------------------------------------------------------


def attribute_chunks(num_channels: int, num_attributes: int) -> List[tuple]:
    """The channel range ``(start, end)`` of each attribute's chunk: the
    channels split evenly, boundaries rounded to the nearest integer
    (``np.rint``, ties to even, as the reference code rounds).

    Args:
        num_channels (int): Channels of the latent code.
        num_attributes (int): Number of attributes.
    """
    per = num_channels / num_attributes
    return [(int(np.rint(per * i)), int(np.rint(per * (i + 1))))
            for i in range(num_attributes)]


def exchange(z_a: Tensor, z_b: Tensor, attribute_ids: Sequence[int],
             num_attributes: int) -> tuple:
    """Exchange the chunks ``attribute_ids`` of two latent codes.

    Args:
        z_a (Tensor): ``(B, C, h, w)`` code of A.
        z_b (Tensor): Code of B, same shape.
        attribute_ids (Sequence[int]): The attributes exchanged (one while
            training; several to edit several attributes at once).
        num_attributes (int): How many chunks the channels are split into.

    Returns:
        tuple: ``z_c`` (``z_a`` with those chunks from ``z_b``) and ``z_d``
        (``z_b`` with those chunks from ``z_a``).
    """
    chunks = attribute_chunks(z_a.shape[1], num_attributes)
    z_c, z_d = z_a.clone(), z_b.clone()
    for i in attribute_ids:
        start, end = chunks[i]
        z_c[:, start:end] = z_b[:, start:end]
        z_d[:, start:end] = z_a[:, start:end]
    return z_c, z_d


# ---------------------------------------------------------------------------
# Generator: encoder -> exchange -> residual decoder
# ---------------------------------------------------------------------------


@MODELS.register_module()
class ELEGANTGenerator(BaseModule):
    """ELEGANT's encoder and decoder.

    Encoder: ``len(channels)`` blocks of Conv3x3 stride 2 -> Normalization ->
    LeakyReLU(0.2); the outputs of all but the last block are kept as skips,
    the last is the latent code. Decoder: the code concatenated with a second
    code (the image's own) goes through ConvTranspose3x3 stride 2 blocks back
    to 3 channels, Normalization -> ReLU after all but the last, each skip
    added after the block that restores its size; ``2 * tanh`` makes the
    output a residual in [-2, 2] that is added to the input image and
    clamped to [-1, 1].

    Args:
        num_attributes (int): Number of latent chunks (set by the model from
            its ``attributes``).
        channels (Sequence[int]): Encoder widths. Defaults to the paper's
            (64, 128, 256, 512, 512): a 256 x 256 image becomes a 512 x 8 x 8
            code; the decoder mirrors them.
        in_channels (int): Image channels. Defaults to 3.
    """

    def __init__(self,
                 num_attributes: int,
                 channels: Sequence[int] = (64, 128, 256, 512, 512),
                 in_channels: int = 3):
        super().__init__()
        if channels[-1] < num_attributes:
            raise ValueError(
                f'a {channels[-1]}-channel code cannot hold one chunk for '
                f'each of {num_attributes} attributes')
        self.num_attributes = num_attributes
        widths = [in_channels, *channels]
        self.encoder = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                Normalization(), nn.LeakyReLU(0.2))
            for c_in, c_out in zip(widths[:-1], widths[1:]))
        # Decoder widths: 2 * code -> reversed encoder widths -> image.
        widths = [2 * channels[-1], *reversed(channels[:-1]), in_channels]
        blocks = []
        for k, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers = [
                nn.ConvTranspose2d(
                    c_in, c_out, 3, stride=2, padding=1, output_padding=1)
            ]
            if k < len(widths) - 2:
                layers += [Normalization(), nn.ReLU()]
            blocks.append(nn.Sequential(*layers))
        self.decoder = nn.ModuleList(blocks)
        init_normal(self)

    def encode(self, img: Tensor) -> tuple:
        """Image -> (latent code, skips from the shallowest to the
        deepest)."""
        skips = []
        x = img
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        return x, skips[:-1]

    def decode(self, img: Tensor, z: Tensor, z_own: Tensor,
               skips: List[Tensor]) -> Tensor:
        """The image ``img`` re-rendered from code ``z``: ``clamp(img +
        residual, -1, 1)``, the residual decoded from ``z`` beside the
        image's own code ``z_own`` and skips."""
        x = torch.cat([z, z_own], dim=1)
        for k, block in enumerate(self.decoder):
            x = block(x)
            if k < len(skips):
                x = x + skips[-1 - k]
        residual = 2 * torch.tanh(x)
        return torch.clamp(img + residual, -1, 1)

    def forward(self, img_a: Tensor, img_b: Tensor,
                attribute_ids: Sequence[int]) -> Dict[str, Tensor]:
        """One exchange. A has the attributes ``attribute_ids``, B lacks
        them.

        Returns:
            dict: ``recon_a`` / ``recon_b`` (A1 and B1, each decoded from its
            own code), ``edited_a`` (C: A with B's chunks) and ``edited_b``
            (D: B with A's chunks).
        """
        z_a, skips_a = self.encode(img_a)
        z_b, skips_b = self.encode(img_b)
        z_c, z_d = exchange(z_a, z_b, attribute_ids, self.num_attributes)
        return dict(
            recon_a=self.decode(img_a, z_a, z_a, skips_a),
            recon_b=self.decode(img_b, z_b, z_b, skips_b),
            edited_a=self.decode(img_a, z_c, z_a, skips_a),
            edited_b=self.decode(img_b, z_d, z_b, skips_b))

    def transfer(self,
                 img_a: Tensor,
                 img_b: Tensor,
                 attribute_ids: Sequence[int],
                 strength: float = 1.0) -> tuple:
        """The exchange of :meth:`forward` between any two images, with
        ``strength`` in [0, 1] walking each code along the line to its
        exchanged code (the paper's interpolation): 0 gives A1 and B1, 1 gives
        C and D.

        Returns:
            tuple: A with B's chunks and B with A's (the exchange is
            symmetric: which image has the attributes does not matter).
        """
        z_a, skips_a = self.encode(img_a)
        z_b, skips_b = self.encode(img_b)
        z_c, z_d = exchange(z_a, z_b, attribute_ids, self.num_attributes)
        return (self.decode(img_a, torch.lerp(z_a, z_c, strength), z_a,
                            skips_a),
                self.decode(img_b, torch.lerp(z_b, z_d, strength), z_b,
                            skips_b))


# ---------------------------------------------------------------------------
# Discriminators: two scales, conditioned on the labels
# ---------------------------------------------------------------------------


class _LabelConditionedDiscriminator(nn.Module):
    """One scale: image and one constant map per label -> 4 x [Conv3x3
    stride 2 -> Normalization -> LeakyReLU(0.2)] -> Linear -> logit."""

    def __init__(self, num_attributes, img_size, channels, in_channels=3):
        super().__init__()
        if img_size % 2**len(channels):
            raise ValueError(f'a {len(channels)}-block discriminator needs a '
                             f'size divisible by {2**len(channels)}, got '
                             f'{img_size}')
        widths = [in_channels + num_attributes, *channels]
        self.conv = nn.Sequential(*[
            layer for c_in, c_out in zip(widths[:-1], widths[1:])
            for layer in (nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                          Normalization(), nn.LeakyReLU(0.2))
        ])
        side = img_size // 2**len(channels)
        self.linear = nn.Linear(channels[-1] * side * side, 1)

    def forward(self, img, labels):
        x = self.conv(concat_label_maps(img, labels))
        return self.linear(x.flatten(1)).squeeze(1)


@MODELS.register_module()
class ELEGANTDiscriminator(BaseModule):
    """ELEGANT's discriminators: D1 on the image, D2 on it average-pooled to
    half the size, each conditioned on the labels as constant maps.

    The paper ends each with a sigmoid and uses binary cross-entropy; this
    returns the logits and the model applies the cross-entropy to them, the
    same loss computed without the sigmoid's overflow.

    Args:
        num_attributes (int): Number of labels (set by the model).
        img_size (int): Side of the full-resolution input. Defaults to 256.
        num_scales (int): Number of discriminators, each at half the size of
            the previous one. Defaults to 2.
        channels (Sequence[int]): Widths of the four conv blocks. Defaults to
            (64, 128, 256, 512).
    """

    def __init__(self,
                 num_attributes: int,
                 img_size: int = 256,
                 num_scales: int = 2,
                 channels: Sequence[int] = (64, 128, 256, 512)):
        super().__init__()
        self.scales = nn.ModuleList(
            _LabelConditionedDiscriminator(num_attributes, img_size //
                                           2**s, channels)
            for s in range(num_scales))
        init_normal(self)

    def forward(self, img: Tensor, labels: Tensor) -> List[Tensor]:
        """Logits ``(B,)`` of every scale, full resolution first."""
        return [
            disc(F.avg_pool2d(img, 2**s) if s else img, labels)
            for s, disc in enumerate(self.scales)
        ]


# ---------------------------------------------------------------------------
# The model: losses and the alternating schedule
# ---------------------------------------------------------------------------


@MODELS.register_module()
class ELEGANT(AttributeExchangeGAN):
    """ELEGANT as an mmagic GAN.

    Each training iteration loops over the attributes; for attribute ``i`` it
    takes the batch of A (with ``i``) and B (without), runs the generator
    once, then makes one discriminator step and one generator step:

    * D: binary cross-entropy with A and B real and C and D fake (labels
      ``y_C`` = ``y_A`` with entry ``i`` from ``y_B``, ``y_D`` symmetrically)
      at each scale; ``loss_D = sum_s w_s * L_Ds / 4``.
    * G: ``recon_weight * [MSE(A1, A) + MSE(B1, B)] + sum_s w_s * adv_s``
      with ``adv_s`` the cross-entropy of C and D against "real".

    Args:
        attributes (Sequence[str]): Attribute names, one latent chunk each.
        generator (dict): An :class:`ELEGANTGenerator` config.
        discriminator (dict, optional): An :class:`ELEGANTDiscriminator`
            config.
        data_preprocessor (dict, optional): See
            :class:`~mmext.generation.base.AttributeExchangeGAN`.
        discriminator_steps (int): Discriminator steps before each
            generator step. Defaults to 1, the paper's schedule.
        loss_config (dict, optional): ``recon_weight`` (5) and
            ``scale_weights`` (``(1, 0.5)``, one per discriminator scale).
    """

    def __init__(self,
                 attributes,
                 generator,
                 discriminator=None,
                 data_preprocessor=None,
                 discriminator_steps=1,
                 loss_config=None):
        loss_config = dict(
            dict(recon_weight=5.0, scale_weights=(1.0, 0.5)),
            **(loss_config or {}))
        super().__init__(attributes, generator, discriminator,
                         data_preprocessor, discriminator_steps, loss_config)
        weights = self.loss_config['scale_weights']
        if self.discriminator is not None and len(weights) != len(
                self.discriminator.scales):
            raise ValueError(
                f'loss_config.scale_weights={tuple(weights)} has '
                f'{len(weights)} weight(s) but the discriminator has '
                f'{len(self.discriminator.scales)} scale(s) (num_scales): '
                'give one weight per scale')

    def _bce(self, img: Tensor, labels: Tensor, real: bool) -> List[Tensor]:
        """Binary cross-entropy of each discriminator scale against
        real/fake."""
        return [
            F.binary_cross_entropy_with_logits(x, torch.full_like(x, real))
            for x in self.discriminator(img, labels)
        ]

    def _weighted(self,
                  prefix: str,
                  per_scale: List[Tensor],
                  divisor: float = 1.0) -> Dict[str, Tensor]:
        weights = self.loss_config['scale_weights']
        return {
            f'{prefix}{s + 1}': w * loss / divisor
            for s, (w, loss) in enumerate(
                zip(weights, per_scale, strict=True))
        }

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        data = self.data_preprocessor(data, True)
        inputs = data['inputs']
        disc_wrapper = optim_wrapper['discriminator']
        gen_wrapper = optim_wrapper['generator']
        log_vars = []
        for i in range(self.num_attributes):
            img_a, img_b = inputs['img_a'][:, i], inputs['img_b'][:, i]
            y_a, y_b = inputs['label_a'][:, i], inputs['label_b'][:, i]
            y_c, y_d = exchange_labels(y_a, y_b, [i])
            # One generator pass serves both steps, as in the paper: the D
            # step sees C and D detached, the G step backpropagates through
            # them to the encoder and decoder.
            with gen_wrapper.optim_context(self.generator):
                out = self.generator(img_a, img_b, [i])
                fake_c, fake_d = out['edited_a'], out['edited_b']

                for _ in range(self.discriminator_steps):
                    with disc_wrapper.optim_context(self.discriminator):
                        # Per scale: A, B real; C, D fake; four terms.
                        per_scale = [
                            ra + rb + fc + fd for ra, rb, fc, fd in zip(
                                self._bce(img_a, y_a, True),
                                self._bce(img_b, y_b, True),
                                self._bce(fake_c.detach(), y_c, False),
                                self._bce(fake_d.detach(), y_d, False))
                        ]
                        loss_d, vars_d = self.parse_losses(
                            self._weighted('loss_d', per_scale, 4))
                        disc_wrapper.update_params(loss_d)

                # D is fixed while G learns to fool it.
                set_requires_grad(self.discriminator, False)
                adv = [
                    c + d for c, d in zip(
                        self._bce(fake_c, y_c, True),
                        self._bce(fake_d, y_d, True))
                ]
                gen_losses = self._weighted('loss_adv', adv)
                gen_losses['loss_recon'] = self.loss_config['recon_weight'] * (
                    F.mse_loss(out['recon_a'], img_a) +
                    F.mse_loss(out['recon_b'], img_b))
                loss_g, vars_g = self.parse_losses(gen_losses)
                gen_wrapper.update_params(loss_g)
                set_requires_grad(self.discriminator, True)

            vars_d['loss_disc'] = vars_d.pop('loss')
            vars_g['loss_gen'] = vars_g.pop('loss')
            log_vars.append({**vars_d, **vars_g})
        return self.gather_log_vars(log_vars)
