"""Privacy-preserving, task-oriented representations by adversarial
reconstruction (AAAI 2020): the classifier with its model-inversion
adversary, the adversary's decoders and losses, and the post-hoc attacker
evaluation."""
from .attacker import (AttackerTestLoop, MeanImage, score_reconstructions,
                       train_attacker)
from .attribute_accuracy import MeanAttributeAccuracy
from .decoders import ConvDecoder
from .encoder import build_cut_backbone
from .image_quality import psnr, ssim
from .model import (AdversarialOptimWrapperConstructor,
                    AdversarialPrivacyClassifier)
from .perceptual import PerceptualDistance

__all__ = [
    'AdversarialPrivacyClassifier', 'AdversarialOptimWrapperConstructor',
    'build_cut_backbone', 'ConvDecoder', 'PerceptualDistance', 'psnr', 'ssim',
    'train_attacker', 'score_reconstructions', 'MeanImage', 'AttackerTestLoop',
    'MeanAttributeAccuracy'
]
