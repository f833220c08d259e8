"""Privacy evaluation as the threat model demands: freeze the trained encoder,
train a fresh attacker decoder from scratch on held-out public data, and
score its reconstructions of the test images (PSNR, SSIM, perceptual
distance; higher error = more private) next to the task metric.

The attacker is built from its config only: it never sees the weights of the
adversary the encoder was trained against.
"""
import copy
import itertools
from typing import Dict, Optional, Union

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop
from mmpretrain.registry import LOOPS, MODELS
from torch import nn
from torch.utils.data import DataLoader

from .image_quality import psnr, ssim

__all__ = [
    'train_attacker', 'score_reconstructions', 'MeanImage', 'AttackerTestLoop'
]


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def _encode(model: nn.Module, batch: dict):
    """Preprocessed images and their representation from the frozen encoder."""
    images = model.data_preprocessor(batch, False)['inputs']
    with torch.no_grad():
        return images, model.represent(images)


def train_attacker(model: nn.Module,
                   attacker: dict,
                   dataloader: DataLoader,
                   iters: int,
                   lr: float = 1e-3,
                   seed: int = 0) -> nn.Module:
    """Train a fresh decoder to invert ``model``'s frozen encoder.

    Args:
        model (nn.Module): An :class:`AdversarialPrivacyClassifier` (or any
            model with ``data_preprocessor`` and ``represent``); put in eval
            mode and not changed.
        attacker (dict): Decoder config; built anew with PyTorch's default
            initialisation drawn from ``seed``.
        dataloader (DataLoader): Public images (cycled as needed).
        iters (int): Adam steps on the pixel reconstruction error.
        lr (float): Adam learning rate. Defaults to 1e-3.
        seed (int): Seed of the attacker's initialisation. Defaults to 0.

    Returns:
        nn.Module: The trained attacker, in eval mode.
    """
    model = _unwrap(model)
    model.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        decoder = MODELS.build(copy.deepcopy(attacker))
    decoder.to(next(model.parameters()).device).train()
    optimizer = torch.optim.Adam(decoder.parameters(), lr=lr)
    batches = itertools.chain.from_iterable(itertools.repeat(dataloader))
    for batch in itertools.islice(batches, iters):
        images, representation = _encode(model, batch)
        loss = torch.nn.functional.mse_loss(
            decoder(representation, images.shape[-2:]), images)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return decoder.eval()


def _to_unit_range(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Undo the data preprocessor's normalisation: pixels in [0, 1]."""
    preprocessor = model.data_preprocessor
    if getattr(preprocessor, '_enable_normalize', False):
        images = images * preprocessor.std + preprocessor.mean
    return (images / 255).clamp(0, 1)


@torch.no_grad()
def score_reconstructions(
        model: nn.Module,
        attacker: nn.Module,
        dataloader: DataLoader,
        perceptual: Optional[nn.Module] = None) -> Dict[str, float]:
    """Mean PSNR (dB), SSIM and, with ``perceptual``, the perceptual
    distance of the attacker's reconstructions of ``dataloader``'s images.

    PSNR and SSIM are computed per image on pixels in [0, 1] (the data
    preprocessor's normalisation undone) and averaged over images.
    """
    model = _unwrap(model)
    model.eval()
    totals = dict(psnr=0.0, ssim=0.0, perceptual_distance=0.0)
    count = 0
    for batch in dataloader:
        images, representation = _encode(model, batch)
        reconstruction = attacker(representation, images.shape[-2:])
        if perceptual is not None:
            totals['perceptual_distance'] += float(
                perceptual(reconstruction, images)) * len(images)
        target = _to_unit_range(model, images)
        estimate = _to_unit_range(model, reconstruction)
        totals['psnr'] += float(psnr(estimate, target).sum())
        totals['ssim'] += float(ssim(estimate, target).sum())
        count += len(images)
    if perceptual is None:
        del totals['perceptual_distance']
    return {name: value / count for name, value in totals.items()}


class MeanImage(nn.Module):
    """The blind attacker: it ignores the representation and answers the
    mean public image, the reconstruction quality an attacker gets from no
    information at all (the floor the private encoder aims at).

    Args:
        model (nn.Module): The classifier (its data preprocessor).
        dataloader (DataLoader): The public images.
    """

    def __init__(self, model: nn.Module, dataloader: DataLoader):
        super().__init__()
        model = _unwrap(model)
        total, count = 0, 0
        for batch in dataloader:
            images = model.data_preprocessor(batch, False)['inputs']
            total = total + images.sum(0)
            count += len(images)
        self.register_buffer('image', total / count)

    def forward(self, representation: torch.Tensor, size=None) -> torch.Tensor:
        return self.image.expand(len(representation), *self.image.shape)


@LOOPS.register_module()
class AttackerTestLoop(TestLoop):
    """The test loop of a privacy-preserving classifier: the task metrics of
    the ordinary :class:`~mmengine.runner.TestLoop`, plus the scores of a
    fresh attacker trained on ``public_dataloader`` against the frozen
    encoder and evaluated on the test images (reported as
    ``attacker/psnr``, ``attacker/ssim`` and, with ``perceptual``,
    ``attacker/perceptual_distance``), and, for reference, those of the
    blind attacker :class:`MeanImage` (``attacker/blind_psnr``, ...).

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The test images.
        evaluator (Evaluator | dict | list): The task metrics.
        attacker (dict): Config of the attacker decoder.
        public_dataloader (DataLoader | dict): The attacker's training data,
            disjoint from the encoder's training data and from the test set.
        iters (int): Attacker training steps. Defaults to 1000.
        lr (float): Attacker learning rate (Adam). Defaults to 1e-3.
        perceptual (dict, optional): A ``PerceptualDistance`` config for the
            perceptual metric.
        seed (int): Seed of the attacker's initialisation. Defaults to 0.
        fp16 (bool): As in TestLoop. Defaults to False.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, dict],
                 evaluator,
                 attacker: dict,
                 public_dataloader: Union[DataLoader, dict],
                 iters: int = 1000,
                 lr: float = 1e-3,
                 perceptual: Optional[dict] = None,
                 seed: int = 0,
                 fp16: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)
        if isinstance(public_dataloader, dict):
            public_dataloader = runner.build_dataloader(public_dataloader,
                                                        seed=runner.seed)
        self.public_dataloader = public_dataloader
        self.attacker = attacker
        self.iters = iters
        self.lr = lr
        self.seed = seed
        self.perceptual = (MODELS.build(perceptual) if isinstance(
            perceptual, dict) else perceptual)

    def attack(self) -> Dict[str, float]:
        """Train the fresh attacker and score it on the test images."""
        model = self.runner.model
        attacker = train_attacker(model, self.attacker, self.public_dataloader,
                                  self.iters, self.lr, self.seed)
        perceptual = self.perceptual
        if perceptual is not None:
            perceptual = perceptual.to(next(attacker.parameters()).device)
        scores = {
            f'attacker/{name}': value
            for name, value in score_reconstructions(
                model, attacker, self.dataloader, perceptual).items()
        }
        blind = MeanImage(model, self.public_dataloader).to(
            next(attacker.parameters()).device)
        scores.update({
            f'attacker/blind_{name}': value
            for name, value in score_reconstructions(
                model, blind, self.dataloader, perceptual).items()
        })
        return scores

    def run(self) -> dict:
        """TestLoop.run with the attacker's scores added to the metrics."""
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        metrics.update(self.attack())
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics
