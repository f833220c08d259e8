"""DNA-GAN: Learning Disentangled Representations from Multi-Attribute Images
(Xiao, Hong and Ma, ICLR 2018 workshop, arXiv 1711.05415).

The file follows the paper's Figure 1: A (has attribute ``i``) and B (lacks
it) are encoded; each code is a list of attribute pieces (one per attribute)
followed by an attribute-irrelevant part. The annihilating operation zeroes
B's piece ``i`` before B is reconstructed, so a missing attribute is encoded
as zeros. Swapping piece ``i`` gives Ae (A's code with piece ``i`` zeroed:
A without the attribute) and Bx (B's code with A's piece ``i``: B with it).
One WGAN critic conditioned on all labels, its weights clipped, judges A and
B as real and Bx and Ae as fake.
"""
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
from mmagic.models.utils import set_requires_grad
from mmagic.registry import MODELS
from mmengine import MessageHub
from mmengine.model import BaseModule
from mmengine.optim import OptimWrapperDict
from torch import Tensor

from .base import AttributeExchangeGAN, concat_label_maps, init_normal

__all__ = [
    'attribute_pieces', 'annihilate', 'swap', 'DNAGANGenerator',
    'DNAGANDiscriminator', 'DNAGAN'
]


# ---------------------------------------------------------------------------
# Attribute pieces, annihilation and swap
# ---------------------------------------------------------------------------


def attribute_pieces(num_channels: int, num_attributes: int,
                     piece_ratio: float) -> List[tuple]:
    """The channel range ``(start, end)`` of each attribute piece: piece
    ``i`` is channels ``[i * p, (i + 1) * p)`` with ``p = int(num_channels *
    piece_ratio)``; channels from ``num_attributes * p`` on are the
    attribute-irrelevant part.

    Args:
        num_channels (int): Channels of the code.
        num_attributes (int): Number of pieces.
        piece_ratio (float): Fraction of the channels in each piece.
    """
    p = int(num_channels * piece_ratio)
    if p < 1 or num_attributes * p >= num_channels:
        raise ValueError(
            f'{num_attributes} pieces of {p} channels leave no '
            f'attribute-irrelevant part in a {num_channels}-channel code; '
            'lower piece_ratio or the number of attributes')
    return [(i * p, (i + 1) * p) for i in range(num_attributes)]


def annihilate(z: Tensor, attribute_ids: Sequence[int],
               pieces: List[tuple]) -> Tensor:
    """``z`` with the pieces ``attribute_ids`` set to zero.

    Args:
        z (Tensor): ``(B, C, h, w)`` code.
        attribute_ids (Sequence[int]): The annihilated attributes.
        pieces (list[tuple]): From :func:`attribute_pieces`.
    """
    z = z.clone()
    for i in attribute_ids:
        start, end = pieces[i]
        z[:, start:end] = 0
    return z


def swap(z_a: Tensor,
         z_b: Tensor,
         attribute_ids: Sequence[int],
         pieces: List[tuple],
         strength: float = 1.0) -> tuple:
    """DNA-GAN's crossover of A (has the attributes) and B (lacks them).

    Args:
        z_a (Tensor): ``(B, C, h, w)`` code of A.
        z_b (Tensor): Code of B, same shape.
        attribute_ids (Sequence[int]): The swapped attributes.
        pieces (list[tuple]): From :func:`attribute_pieces`.
        strength (float): The interpolation of the paper's figures: B's
            pieces become A's scaled by ``strength`` (from zero, B's own
            annihilated pieces) and A's are scaled by ``1 - strength``
            (towards zero). 1, the default, is the swap; 0 leaves the codes
            of the reconstructions A2 and B2.

    Returns:
        tuple: ``z_ae``, A's code with the pieces zeroed (A loses the
        attributes), and ``z_bx``, B's code with A's pieces (B gains them).
    """
    z_ae, z_bx = z_a.clone(), z_b.clone()
    for i in attribute_ids:
        start, end = pieces[i]
        z_ae[:, start:end] = (1 - strength) * z_a[:, start:end]
        z_bx[:, start:end] = strength * z_a[:, start:end]
    return z_ae, z_bx


# ---------------------------------------------------------------------------
# Generator: encoder -> pieces -> decoder
# ---------------------------------------------------------------------------


def _downsampling(in_channels: int, channels: Sequence[int]) -> nn.Sequential:
    """The reference's encoder and critic trunk: Conv4x4 stride 2 (no bias)
    to each width, batch norm after all but the first, LeakyReLU(0.2)."""
    widths = [in_channels, *channels]
    layers = []
    for k, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False))
        if k:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


@MODELS.register_module()
class DNAGANGenerator(BaseModule):
    """DNA-GAN's encoder and decoder.

    Encoder: Conv4x4 stride 2 to ``channels[0]`` -> LeakyReLU(0.2), then for
    each further width Conv4x4 stride 2 -> BatchNorm -> LeakyReLU(0.2): a
    64 x 64 image becomes a 512 x 8 x 8 code with the paper's widths.
    Decoder: ConvTranspose4x4 stride 2 -> BatchNorm -> ReLU back through the
    widths (the first keeps the code's width), a last ConvTranspose4x4 with
    bias to the image, tanh. Pixels are in [-1, 1], the reference's
    ``x / 127.5 - 1`` and ``(tanh + 1) * 127.5`` of 0-255 images.

    Args:
        num_attributes (int): Number of attribute pieces (set by the model).
        channels (Sequence[int]): Encoder widths. Defaults to the paper's
            (128, 256, 512).
        piece_ratio (float): Fraction of the code's channels in each
            attribute piece. Defaults to 0.25 (128 of 512).
        in_channels (int): Image channels. Defaults to 3.
    """

    def __init__(self,
                 num_attributes: int,
                 channels: Sequence[int] = (128, 256, 512),
                 piece_ratio: float = 0.25,
                 in_channels: int = 3):
        super().__init__()
        self.num_attributes = num_attributes
        self.pieces = attribute_pieces(channels[-1], num_attributes,
                                       piece_ratio)
        self.encoder = _downsampling(in_channels, channels)
        # Decoder widths: the code's width kept once, then back down.
        widths = [channels[-1], *reversed(channels[1:])]
        layers = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU()
            ]
        layers += [
            nn.ConvTranspose2d(widths[-1], in_channels, 4, 2, 1, bias=True),
            nn.Tanh()
        ]
        self.decoder = nn.Sequential(*layers)
        init_normal(self)

    def encode(self, img: Tensor) -> Tensor:
        return self.encoder(img)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, img_a: Tensor, img_b: Tensor,
                attribute_ids: Sequence[int]) -> Dict[str, Tensor]:
        """One crossover. A has the attributes ``attribute_ids``, B lacks
        them.

        Returns:
            dict: ``recon_a`` (A2, from A's code), ``recon_b`` (B2, from B's
            code with the pieces annihilated), ``edited_a`` (Ae) and
            ``edited_b`` (Bx).
        """
        z_a, z_b = self.encode(img_a), self.encode(img_b)
        z_ae, z_bx = swap(z_a, z_b, attribute_ids, self.pieces)
        return dict(
            recon_a=self.decode(z_a),
            recon_b=self.decode(annihilate(z_b, attribute_ids, self.pieces)),
            edited_a=self.decode(z_ae),
            edited_b=self.decode(z_bx))

    def transfer(self,
                 img_a: Tensor,
                 img_b: Tensor,
                 attribute_ids: Sequence[int],
                 strength: float = 1.0) -> tuple:
        """The crossover of :meth:`forward` between any two images, A with
        the attributes and B without, at a ``strength`` in [0, 1] (see
        :func:`swap`): 0 gives A2 and B2, 1 gives Ae and Bx.

        Returns:
            tuple: A losing the attributes and B gaining them.
        """
        z_ae, z_bx = swap(
            self.encode(img_a), self.encode(img_b), attribute_ids,
            self.pieces, strength)
        return self.decode(z_ae), self.decode(z_bx)


# ---------------------------------------------------------------------------
# Critic: one WGAN discriminator conditioned on all labels
# ---------------------------------------------------------------------------


@MODELS.register_module()
class DNAGANDiscriminator(BaseModule):
    """DNA-GAN's critic: the image next to one constant map per label
    (+1 / -1), Conv4x4 stride 2 blocks (the first without batch norm),
    LeakyReLU(0.2), a linear layer to one score per attribute. No sigmoid:
    it is a WGAN critic.

    Args:
        num_attributes (int): Number of labels and scores (set by the model).
        img_size (int): Input side. Defaults to 64.
        channels (Sequence[int]): Conv widths. Defaults to the paper's
            (128, 256, 512, 512).
        in_channels (int): Image channels. Defaults to 3.
    """

    def __init__(self,
                 num_attributes: int,
                 img_size: int = 64,
                 channels: Sequence[int] = (128, 256, 512, 512),
                 in_channels: int = 3):
        super().__init__()
        if img_size % 2**len(channels):
            raise ValueError(f'img_size must be divisible by '
                             f'{2**len(channels)}, got {img_size}')
        self.conv = _downsampling(in_channels + num_attributes, channels)
        side = img_size // 2**len(channels)
        self.fc = nn.Linear(channels[-1] * side * side, num_attributes)
        init_normal(self)

    def forward(self, img: Tensor, labels: Tensor) -> Tensor:
        """Scores ``(B, n)`` for images and their ``(B, n)`` labels in
        {-1, 1}."""
        return self.fc(self.conv(concat_label_maps(img, labels)).flatten(1))


# ---------------------------------------------------------------------------
# The model: WGAN losses, clipping and the critic schedule
# ---------------------------------------------------------------------------


@MODELS.register_module()
class DNAGAN(AttributeExchangeGAN):
    """DNA-GAN as an mmagic GAN.

    An iteration takes, for every attribute ``i``, a batch of A (with ``i``)
    and of B (without), runs the generator once, updates the critic
    ``disc_boost_steps`` times if the iteration is a multiple of
    ``disc_boost_interval`` and ``discriminator_steps`` times otherwise
    (clipping its weights to ``[-clip_value, clip_value]`` after each
    update), then updates the generator once. Summed over the attributes,
    with ``D_i`` the critic's score ``i`` and 0-255 pixels:

    * critic: ``mean D_i(Bx, y_A) - mean D_i(A, y_A) + mean D_i(Ae, y_B) -
      mean D_i(B, y_B)``;
    * generator: ``mean|A - A2| / 255 + mean|B - B2| / 255 - mean D_i(Bx,
      y_A) - mean D_i(Ae, y_B)``.

    Args:
        attributes (Sequence[str]): Attribute names, one piece each.
        generator (dict): A :class:`DNAGANGenerator` config.
        discriminator (dict, optional): A :class:`DNAGANDiscriminator` config.
        data_preprocessor (dict, optional): See
            :class:`~mmext.generation.base.AttributeExchangeGAN`.
        clip_value (float): Critic weight bound. Defaults to 0.01.
        discriminator_steps (int): Critic updates per generator update.
            Defaults to 1.
        disc_boost_steps (int): Critic updates in boosted iterations.
            Defaults to 100.
        disc_boost_interval (int): Every this many iterations (from
            iteration 0) the critic is boosted. Defaults to 500.
    """

    def __init__(self,
                 attributes,
                 generator,
                 discriminator=None,
                 data_preprocessor=None,
                 clip_value: float = 0.01,
                 discriminator_steps: int = 1,
                 disc_boost_steps: int = 100,
                 disc_boost_interval: int = 500):
        super().__init__(attributes, generator, discriminator,
                         data_preprocessor, discriminator_steps)
        self.clip_value = clip_value
        self.disc_boost_steps = disc_boost_steps
        self.disc_boost_interval = disc_boost_interval

    def critic_steps(self, curr_iter: int) -> int:
        """Critic updates in iteration ``curr_iter`` (0-based)."""
        if curr_iter % self.disc_boost_interval == 0:
            return self.disc_boost_steps
        return self.discriminator_steps

    def _critic(self, img: Tensor, labels: Tensor, i: int) -> Tensor:
        """Mean score ``i`` of a batch, labels mapped from {0, 1} to
        {-1, 1}."""
        return self.discriminator(img, 2 * labels - 1)[:, i].mean()

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        data = self.data_preprocessor(data, True)
        inputs = data['inputs']
        curr_iter = MessageHub.get_current_instance().get_info('iter', 0)
        disc_wrapper = optim_wrapper['discriminator']
        gen_wrapper = optim_wrapper['generator']
        n = self.num_attributes
        streams = [(inputs['img_a'][:, i], inputs['img_b'][:, i],
                    inputs['label_a'][:, i], inputs['label_b'][:, i])
                   for i in range(n)]
        with gen_wrapper.optim_context(self.generator):
            # Each attribute's stream goes through the generator on its own,
            # so batch norm sees one stream's statistics as in the reference.
            outs = [
                self.generator(a, b, [i])
                for i, (a, b, _, _) in enumerate(streams)
            ]

            # The generator does not change during the critic's steps, so
            # its outputs are computed once and reused, detached.
            for _ in range(self.critic_steps(curr_iter)):
                with disc_wrapper.optim_context(self.discriminator):
                    losses = {'loss_critic_x': 0., 'loss_critic_e': 0.}
                    for i, (stream, out) in enumerate(zip(streams, outs)):
                        a, b, y_a, y_b = stream
                        bx = out['edited_b'].detach()
                        ae = out['edited_a'].detach()
                        losses['loss_critic_x'] += (
                            self._critic(bx, y_a, i) - self._critic(a, y_a, i))
                        losses['loss_critic_e'] += (
                            self._critic(ae, y_b, i) - self._critic(b, y_b, i))
                    loss_d, vars_d = self.parse_losses(losses)
                    disc_wrapper.update_params(loss_d)
                with torch.no_grad():
                    for param in self.discriminator.parameters():
                        param.clamp_(-self.clip_value, self.clip_value)

            set_requires_grad(self.discriminator, False)
            losses = {'loss_recon': 0., 'loss_adv_x': 0., 'loss_adv_e': 0.}
            for i, (stream, out) in enumerate(zip(streams, outs)):
                a, b, y_a, y_b = stream
                # |x - y| / 255 on 0-255 pixels is |x - y| / 2 on [-1, 1].
                losses['loss_recon'] += 0.5 * (
                    (a - out['recon_a']).abs().mean() +
                    (b - out['recon_b']).abs().mean())
                losses['loss_adv_x'] -= self._critic(out['edited_b'], y_a, i)
                losses['loss_adv_e'] -= self._critic(out['edited_a'], y_b, i)
            loss_g, vars_g = self.parse_losses(losses)
            gen_wrapper.update_params(loss_g)
            set_requires_grad(self.discriminator, True)

        vars_d['loss_disc'] = vars_d.pop('loss')
        vars_g['loss_gen'] = vars_g.pop('loss')
        return {**vars_d, **vars_g}
