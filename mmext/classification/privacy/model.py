"""Privacy-preserving, task-oriented representations by adversarial
reconstruction ("Adversarial Learning of Privacy-Preserving and
Task-Oriented Representations", AAAI 2020, arXiv 1911.10143).

    image x --Enc--> z --f (neck + head)--> task prediction
                     z --Dec--> x' (model-inversion adversary)

Each training iteration alternates two updates on one batch:

1. adversary: Dec minimises its reconstruction loss on the detached z;
2. encoder and task head: minimise ``task loss - lambda * privacy loss``,
   where the privacy loss is the (frozen) adversary's pixel or perceptual
   reconstruction error on z. A larger lambda buys privacy with utility.

Privacy is then measured as the threat model demands: a fresh attacker
trained on public data against the frozen encoder (see :mod:`.attacker`).
"""
from collections import OrderedDict
from contextlib import contextmanager
from typing import Dict, Optional

import torch
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from mmext.errors import BadValueError

from .encoder import build_cut_backbone

__all__ = [
    'AdversarialPrivacyClassifier', 'AdversarialOptimWrapperConstructor'
]


@contextmanager
def frozen(module: nn.Module):
    """Run the block with ``module`` fixed: its parameters excluded from
    autograd (gradients still flow through it to its inputs) and its buffers
    (normalisation statistics) restored afterwards. It still computes in its
    current mode, so it responds exactly as in its own training step."""
    flags = [p.requires_grad for p in module.parameters()]
    buffers = [b.clone() for b in module.buffers()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for param, flag in zip(module.parameters(), flags):
            param.requires_grad_(flag)
        with torch.no_grad():
            for buffer, saved in zip(module.buffers(), buffers):
                buffer.copy_(saved)


@MODELS.register_module()
class AdversarialPrivacyClassifier(ImageClassifier):
    """An image classifier whose released representation resists a
    reconstruction adversary.

    ``backbone`` cut after ``cut_stage`` is the encoder Enc; ``neck`` and
    ``head`` form the task classifier f (single- or multi-label mmpretrain
    head); ``adversary`` is the decoder Dec. Train with an
    :class:`~mmengine.optim.OptimWrapperDict` holding ``encoder`` (backbone,
    neck, head) and ``adversary``, as
    :class:`AdversarialOptimWrapperConstructor` builds it. Validation and
    test are an ordinary ImageClassifier's.

    Args:
        backbone (dict): mmpretrain backbone config.
        cut_stage (int): The encoder ends after this stage (0-based) of the
            backbone: the depth of the released representation.
        adversary (dict): Decoder config, e.g. ``dict(type='ConvDecoder',
            in_channels=..., channels=(...))``.
        head (dict): Task head config.
        neck (dict, optional): Between the representation and the head,
            e.g. ``dict(type='GlobalAveragePooling')``.
        privacy_weight (float): lambda, the weight of the negative privacy
            loss in the encoder's objective. 0 trains a plain classifier
            (the adversary still learns, for reference). Defaults to 1.0.
        adversary_loss (dict): What the adversary minimises. Defaults to
            ``dict(type='PixelReconstructionLoss', criterion='L2')``, the
            mean squared error in the data preprocessor's normalised space.
        privacy_loss (dict, optional): Whose negative the encoder minimises:
            ``PixelReconstructionLoss`` or ``PerceptualDistance``. Defaults
            to the adversary's loss.
        adversary_steps (int): Adversary updates per encoder update.
            Defaults to 1.
        data_preprocessor (dict, optional): As for ImageClassifier.
        train_cfg (dict, optional): As for ImageClassifier (batch augments).
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 cut_stage: int,
                 adversary: dict,
                 head: dict,
                 neck: Optional[dict] = None,
                 privacy_weight: float = 1.0,
                 adversary_loss: Optional[dict] = None,
                 privacy_loss: Optional[dict] = None,
                 adversary_steps: int = 1,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(backbone=build_cut_backbone(backbone, cut_stage),
                         neck=neck,
                         head=head,
                         train_cfg=train_cfg,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if adversary_steps < 1:
            raise BadValueError(
                f'adversary_steps must be >= 1, got {adversary_steps}')
        self.cut_stage = cut_stage
        self.privacy_weight = float(privacy_weight)
        self.adversary_steps = adversary_steps
        self.adversary = MODELS.build(adversary)
        self.adversary_loss = MODELS.build(
            adversary_loss
            or dict(type='PixelReconstructionLoss', criterion='L2'))
        self.privacy_loss = (self.adversary_loss if privacy_loss is None else
                             MODELS.build(privacy_loss))

    def represent(self, inputs: torch.Tensor) -> torch.Tensor:
        """The released representation Enc(x) of preprocessed images."""
        return self.backbone(inputs)[-1]

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        data = self.data_preprocessor(data, True)
        images, data_samples = data['inputs'], data['data_samples']
        features = self.backbone(images)
        log_vars = self.adversary_phase(features[-1].detach(), images,
                                        optim_wrapper['adversary'])
        log_vars.update(
            self.encoder_phase(features, images, data_samples,
                               optim_wrapper['encoder']))
        return log_vars

    def adversary_phase(self, representation: torch.Tensor,
                        images: torch.Tensor, optim_wrapper) -> dict:
        """Dec learns to reconstruct ``images`` from the (detached)
        representation; only the adversary's parameters change."""
        for _ in range(self.adversary_steps):
            loss = self.adversary_loss(
                self.adversary(representation, images.shape[-2:]), images)
            optim_wrapper.update_params(loss)
        return OrderedDict(loss_adversary=loss.detach())

    def encoder_phase(self, features: tuple, images: torch.Tensor,
                      data_samples: list, optim_wrapper) -> dict:
        """Enc and f minimise the task loss minus lambda times the frozen
        adversary's reconstruction error; the adversary (weights and
        statistics) does not change and collects no gradient."""
        losses = self.head.loss(
            self.neck(features) if self.with_neck else features, data_samples)
        # The adversary stays frozen through the backward pass, which needs
        # its normalisation buffers as they were in the forward pass.
        with frozen(self.adversary):
            with torch.set_grad_enabled(torch.is_grad_enabled()
                                        and self.privacy_weight != 0):
                reconstruction_error = self.privacy_loss(
                    self.adversary(features[-1], images.shape[-2:]), images)
            if self.privacy_weight != 0:
                losses['loss_privacy'] = (-self.privacy_weight *
                                          reconstruction_error)
            loss, log_vars = self.parse_losses(losses)
            optim_wrapper.update_params(loss)
        log_vars['reconstruction_error'] = reconstruction_error.detach()
        return log_vars


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class AdversarialOptimWrapperConstructor:
    """Separate optim wrappers for the two players of
    :class:`AdversarialPrivacyClassifier`: ``encoder`` (backbone, neck and
    head) and ``adversary``, returned as an
    :class:`~mmengine.optim.OptimWrapperDict`. Each is built by mmengine's
    :class:`~mmengine.optim.DefaultOptimWrapperConstructor` from its own
    config (which may carry a ``paramwise_cfg``).

    mmengine builds an OptimWrapperDict only through a constructor, and
    mmagic's multi-wrapper constructor (one wrapper per single submodule)
    cannot group backbone, neck and head under one wrapper.

    Args:
        optim_wrapper_cfg (dict): ``dict(encoder=dict(type='OptimWrapper',
            optimizer=...), adversary=dict(...))``.
        paramwise_cfg (dict, optional): Not used at this level; give it
            inside each wrapper's config.
    """

    GROUPS = OrderedDict(encoder=('backbone', 'neck', 'head'),
                         adversary=('adversary', ))

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        missing = [
            name for name in self.GROUPS if name not in optim_wrapper_cfg
        ]
        unknown = [
            name for name in optim_wrapper_cfg if name not in self.GROUPS
        ]
        if missing or unknown or paramwise_cfg:
            raise BadValueError(
                'optim_wrapper for AdversarialPrivacyClassifier needs exactly '
                f'the keys {list(self.GROUPS)} (paramwise_cfg inside each); '
                f'missing {missing}, unknown {unknown}')
        self.constructors = OrderedDict()
        for name in self.GROUPS:
            cfg = dict(optim_wrapper_cfg[name])
            group_paramwise = cfg.pop('paramwise_cfg', None)
            self.constructors[name] = DefaultOptimWrapperConstructor(
                cfg, group_paramwise)

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        model = getattr(model, 'module', model)
        wrappers = OrderedDict()
        for name, parts in self.GROUPS.items():
            modules = nn.ModuleDict({
                part: getattr(model, part)
                for part in parts if getattr(model, part, None) is not None
            })
            wrappers[name] = self.constructors[name](modules)
        return OptimWrapperDict(**wrappers)
