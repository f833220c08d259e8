"""Semi-supervised learning with meta-gradient (Zhang et al., AISTATS 2021).

Per training batch of labeled ``(x_l, y)`` and unlabeled ``x_u`` images:

1. predictions ``y~ = softmax(f(x_u))`` and the meta-gradient ``g_y`` of the
   labeled loss through one unrolled step (:mod:`.meta_gradient`), in eval
   mode;
2. pseudo labels ``y^ = normalise(relu(y~ - lr * g_y))``;
3. cross-domain mix-up: ``x = lam x_l + (1 - lam) x_u`` with per-sample
   ``lam ~ Beta(gamma, gamma)``, loss ``KL(lam y + (1 - lam) y^ || f(x))``
   (or the labeled cross-entropy without mix-up);
4. consistency ``mean_b ||softmax(f(x_u)) - y^||^2`` with a weight ramped
   linearly to its maximum.

Distributed training needs :class:`MetaGradientSSLDDP` as
``model_wrapper_cfg``: mmengine's ``MMDistributedDataParallel.train_step``
would call ``forward(mode='loss')`` and skip the algorithm.
"""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODEL_WRAPPERS, MODELS
from torch import Tensor
from torch.distributions import Beta

from .data import SemiSupervisedError
from .meta_gradient import (exact_meta_gradient, first_order_meta_gradient,
                            update_pseudo_labels)

__all__ = [
    'MetaGradientSSL', 'MetaGradientSSLDDP', 'consistency_loss',
    'cross_domain_mixup', 'linear_rampup'
]


def linear_rampup(iteration: int, max_weight: float, rampup_iters: int):
    """``max_weight * iteration / rampup_iters``, then ``max_weight``."""
    if rampup_iters <= 0 or iteration >= rampup_iters:
        return max_weight
    return max_weight * iteration / rampup_iters


def cross_domain_mixup(labeled_inputs: Tensor, labeled_targets: Tensor,
                       unlabeled_inputs: Tensor, pseudo_labels: Tensor,
                       lam: Tensor):
    """Mix each labeled image with the unlabeled image at the same position.

    Args:
        labeled_inputs (Tensor): (B, C, H, W).
        labeled_targets (Tensor): One-hot labels, (B, num_classes).
        unlabeled_inputs (Tensor): (B, C, H, W).
        pseudo_labels (Tensor): (B, num_classes).
        lam (Tensor): Per-sample weight of the labeled image, (B, ).

    Returns:
        tuple[Tensor, Tensor]: The mixed images and their targets.
    """
    images = (lam.view(-1, 1, 1, 1) * labeled_inputs +
              (1 - lam.view(-1, 1, 1, 1)) * unlabeled_inputs)
    targets = (lam[:, None] * labeled_targets +
               (1 - lam[:, None]) * pseudo_labels)
    return images, targets


def consistency_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean over the batch of ``||softmax(logits) - targets||^2``."""
    return (F.softmax(logits, dim=1) - targets).pow(2).sum(dim=1).mean()


@MODELS.register_module()
class MetaGradientSSL(ImageClassifier):
    """An mmpretrain classifier trained by meta-gradient semi-supervision.

    Any backbone / neck / head of mmpretrain; validation, testing and
    inference are those of :class:`ImageClassifier`. Training batches come
    from :class:`SemiSplitDataset` with :class:`LabeledUnlabeledSampler` and
    ``labeled_unlabeled_collate``: ``dict(labeled=..., unlabeled=...)``, each
    an ordinary mmpretrain batch that the data preprocessor handles alone.

    Batch norm as in the reference code: the meta step runs in eval mode
    (running statistics, neither used from nor written into the batch;
    dropout off), and the training losses run two separate train-mode
    forward passes - mixed (or labeled) images, then unlabeled images - each
    normalised with its own batch statistics and each updating the running
    statistics. Distributed: :class:`MetaGradientSSLDDP` as the model
    wrapper (the meta step then uses each rank's own batch, as the
    reference's, whose ``autograd.grad`` is not reduced by DDP either).

    Args:
        backbone (dict): mmpretrain backbone config.
        neck (dict, optional): Neck config.
        head (dict): Classification head config; its ``loss_module`` is the
            labeled loss (cross-entropy in the paper).
        meta_gradient (str): ``'first_order'`` (the reference's finite
            difference, default) or ``'exact'`` (second order, torch.func).
        meta_step (bool): Update the pseudo labels by the meta-gradient.
            False keeps the plain predictions (the "no meta step" ablation).
        epsilon (float): Perturbation length of the first-order estimate.
            Defaults to 0.01.
        mixup (bool): Cross-domain mix-up (True) or the labeled
            cross-entropy (False, the "no mix-up" ablation).
        mixup_gamma (float): Beta(gamma, gamma) of the mix-up weights:
            1.0 for CIFAR, 0.1 for SVHN in the paper.
        consistency_weight (float): Maximum weight of the consistency loss.
            Defaults to 1.0.
        rampup_iters (int): Iterations of its linear ramp-up from 0 (4000 in
            the paper; 0 for a constant weight, as on ImageNet).
        **kwargs: ``pretrained``, ``train_cfg``, ``data_preprocessor``,
            ``init_cfg`` of :class:`ImageClassifier`.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 meta_gradient: str = 'first_order',
                 meta_step: bool = True,
                 epsilon: float = 0.01,
                 mixup: bool = True,
                 mixup_gamma: float = 1.0,
                 consistency_weight: float = 1.0,
                 rampup_iters: int = 4000,
                 **kwargs):
        if meta_gradient not in ('first_order', 'exact'):
            raise SemiSupervisedError(
                "MetaGradientSSL: meta_gradient must be "
                f"'first_order' or 'exact', got {meta_gradient!r}")
        if head is None:
            raise SemiSupervisedError(
                'MetaGradientSSL needs a classification head')
        if mixup and not mixup_gamma > 0:
            raise SemiSupervisedError(
                f'MetaGradientSSL: mixup_gamma must be > 0, got {mixup_gamma}')
        super().__init__(backbone, neck=neck, head=head, **kwargs)
        self.meta_gradient = meta_gradient
        self.meta_step = meta_step
        self.epsilon = epsilon
        self.mixup = mixup
        self.mixup_gamma = mixup_gamma
        self.consistency_weight = consistency_weight
        self.rampup_iters = rampup_iters

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """One step of the algorithm on ``dict(labeled=..., unlabeled=...)``.

        The pseudo-label step size is the optimizer's current learning rate
        and the ramp-up follows the runner's iteration, as in the reference.
        """
        return self.semi_train_step(self, data, optim_wrapper)

    def semi_train_step(self, network, data: dict,
                        optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """:meth:`train_step` with the training forwards run by ``network``:
        this model, or the DDP wrapper around it so that DDP reduces their
        gradients (the meta step never goes through DDP: it only takes
        ``autograd.grad``)."""
        if not (isinstance(data, dict) and 'labeled' in data
                and 'unlabeled' in data):
            raise SemiSupervisedError(
                'MetaGradientSSL trains on dict(labeled=..., unlabeled=...) '
                'batches: use SemiSplitDataset, LabeledUnlabeledSampler and '
                'labeled_unlabeled_collate in train_dataloader')
        iteration = MessageHub.get_current_instance().get_info('iter', 0)
        with optim_wrapper.optim_context(network):
            labeled = self.data_preprocessor(data['labeled'], True)
            unlabeled = self.data_preprocessor(data['unlabeled'], True)
            losses = self.semi_loss(labeled['inputs'],
                                    labeled['data_samples'],
                                    unlabeled['inputs'],
                                    unlabeled['data_samples'],
                                    step_size=optim_wrapper.get_lr()['lr'][0],
                                    iteration=iteration,
                                    network=network)
        parsed_loss, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed_loss)
        return log_vars

    def semi_loss(self,
                  labeled_inputs: Tensor,
                  labeled_samples: List,
                  unlabeled_inputs: Tensor,
                  unlabeled_samples: Optional[List] = None,
                  step_size: float = 0.1,
                  iteration: int = 0,
                  network=None) -> Dict[str, Tensor]:
        """The losses of one batch (steps 1-4 of the module docstring).

        Args:
            labeled_inputs (Tensor): Preprocessed labeled images.
            labeled_samples (list[DataSample]): Their labels.
            unlabeled_inputs (Tensor): Preprocessed unlabeled images.
            unlabeled_samples (list[DataSample], optional): Only read, when
                they carry ground truth, to log the pseudo-label accuracy.
            step_size (float): ``beta_t`` of the pseudo-label update.
            iteration (int): For the consistency ramp-up.
            network (nn.Module, optional): Runs the training forwards; this
                model (default) or its DDP wrapper.
        """
        network = self if network is None else network
        labels = torch.cat([s.gt_label for s in labeled_samples])
        if len(labeled_inputs) == 0 or len(unlabeled_inputs) == 0:
            raise SemiSupervisedError(
                f'MetaGradientSSL: a batch holds {len(labeled_inputs)} '
                f'labeled and {len(unlabeled_inputs)} unlabeled images; both '
                'parts must be non-empty')
        if self.mixup and len(labeled_inputs) != len(unlabeled_inputs):
            raise SemiSupervisedError(
                f'MetaGradientSSL: mix-up pairs images, but a batch holds '
                f'{len(labeled_inputs)} labeled and {len(unlabeled_inputs)} '
                'unlabeled ones: give LabeledUnlabeledSampler equal batch '
                'sizes')
        pseudo_labels = self.pseudo_labels(labeled_inputs, labels,
                                           unlabeled_inputs, step_size)

        losses = {}
        if self.mixup:
            num_classes = pseudo_labels.size(1)
            lam = Beta(torch.tensor(float(self.mixup_gamma)),
                       torch.tensor(float(self.mixup_gamma))).sample(
                           (len(labels), )).to(labeled_inputs)
            mixed_inputs, mixed_targets = cross_domain_mixup(
                labeled_inputs,
                F.one_hot(labels, num_classes).float(), unlabeled_inputs,
                pseudo_labels, lam)
            log_probs = F.log_softmax(network(mixed_inputs), dim=1)
            losses['loss_mixup'] = F.kl_div(log_probs,
                                            mixed_targets,
                                            reduction='batchmean')
        else:
            losses['loss_cls'] = self._labeled_loss(network(labeled_inputs),
                                                    labels)

        weight = linear_rampup(iteration, self.consistency_weight,
                               self.rampup_iters)
        losses['loss_consistency'] = weight * consistency_loss(
            network(unlabeled_inputs), pseudo_labels)
        losses['consistency_weight'] = torch.tensor(float(weight))
        if unlabeled_samples and 'gt_label' in unlabeled_samples[0]:
            truth = torch.cat([s.gt_label for s in unlabeled_samples])
            losses['pseudo_label_acc'] = (pseudo_labels.argmax(1) == truth.to(
                pseudo_labels.device)).float().mean()
        return losses

    def pseudo_labels(self, labeled_inputs: Tensor, labels: Tensor,
                      unlabeled_inputs: Tensor, step_size: float) -> Tensor:
        """``y^`` of the unlabeled images (no graph), computed in eval mode."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                predictions = F.softmax(self(unlabeled_inputs), dim=1)
            if not self.meta_step:
                return predictions
            params = {
                name: p
                for name, p in self.named_parameters() if p.requires_grad
            }
            with torch.enable_grad():  # also when called without grads
                if self.meta_gradient == 'exact':
                    grad = exact_meta_gradient(self._classify, params,
                                               labeled_inputs, labels,
                                               unlabeled_inputs, predictions,
                                               self._labeled_loss)
                else:
                    grad = first_order_meta_gradient(self._classify, params,
                                                     labeled_inputs, labels,
                                                     unlabeled_inputs,
                                                     self._labeled_loss,
                                                     self.epsilon)
            return update_pseudo_labels(predictions, grad, step_size)
        finally:
            self.train(was_training)

    def _classify(self, params: Dict[str, Tensor], inputs: Tensor) -> Tensor:
        return torch.func.functional_call(self, params, (inputs, ))

    def _labeled_loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        return self.head.loss_module(logits, labels, avg_factor=logits.size(0))


@MODEL_WRAPPERS.register_module()
class MetaGradientSSLDDP(MMDistributedDataParallel):
    """Distributed data parallel :class:`MetaGradientSSL`.

    ``MMDistributedDataParallel.train_step`` preprocesses the batch and calls
    ``forward(mode='loss')``, which cannot take the ``labeled`` /
    ``unlabeled`` batch and has no meta step; this wrapper runs
    :meth:`MetaGradientSSL.semi_train_step` with its training forwards
    through DDP (one gradient reduction per step, as the reference's DDP).

    Args:
        module (MetaGradientSSL): The model.
        **kwargs: The arguments of ``MMDistributedDataParallel``
            (``broadcast_buffers``, ``device_ids`` ...).
    """

    def __init__(self, module: MetaGradientSSL, **kwargs) -> None:
        if not isinstance(module, MetaGradientSSL):
            raise SemiSupervisedError(
                'MetaGradientSSLDDP wraps a MetaGradientSSL model, got '
                f'{type(module).__name__}: drop model_wrapper_cfg for it')
        super().__init__(module=module, **kwargs)

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """One step of the algorithm, training forwards through DDP."""
        return self.module.semi_train_step(self, data, optim_wrapper)
