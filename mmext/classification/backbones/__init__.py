"""mmpretrain backbones, registered in mmpretrain's MODELS."""
from .cifar_resnet import CifarResNet

__all__ = ['CifarResNet']
