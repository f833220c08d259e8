"""The CIFAR ResNets of He et al. (2016, Sec. 4.2): ResNet-20/32/44/56/110.

mmpretrain's ``ResNet_CIFAR`` only has the ImageNet depths (18-152, four stages
from 64 channels); these have three stages of ``n`` basic blocks with 16, 32
and 64 channels (``6n + 2`` layers), as used by the structured-sparsification
paper. Everything but the stage layout is mmpretrain's ``ResNet_CIFAR``: a 3x3
stem without max-pooling and 1x1-conv projection shortcuts, as in the
paper's reference code.
"""
from mmpretrain.models.backbones.resnet import BasicBlock
from mmpretrain.models.backbones.resnet_cifar import ResNet_CIFAR
from mmpretrain.registry import MODELS

__all__ = ['CifarResNet']


@MODELS.register_module()
class CifarResNet(ResNet_CIFAR):
    """ResNet-20/32/44/56/110 for 32x32 images.

    Args:
        depth (int): One of 20, 32, 44, 56, 110.
        stem_channels (int): Output channels of the stem. Defaults to 16.
        base_channels (int): Channels of the first stage. Defaults to 16.
        num_stages (int): Defaults to 3.
        strides (Sequence[int]): Stride of each stage's first block.
            Defaults to (1, 2, 2).
        dilations (Sequence[int]): Defaults to (1, 1, 1).
        out_indices (Sequence[int]): Defaults to (2, ), the last stage.
        **kwargs: Other arguments of mmpretrain's ``ResNet``.
    """

    arch_settings = {
        20: (BasicBlock, (3, 3, 3)),
        32: (BasicBlock, (5, 5, 5)),
        44: (BasicBlock, (7, 7, 7)),
        56: (BasicBlock, (9, 9, 9)),
        110: (BasicBlock, (18, 18, 18)),
    }

    def __init__(self,
                 depth,
                 stem_channels=16,
                 base_channels=16,
                 num_stages=3,
                 strides=(1, 2, 2),
                 dilations=(1, 1, 1),
                 out_indices=(2, ),
                 **kwargs):
        super().__init__(
            depth,
            stem_channels=stem_channels,
            base_channels=base_channels,
            num_stages=num_stages,
            strides=strides,
            dilations=dilations,
            out_indices=out_indices,
            **kwargs)
