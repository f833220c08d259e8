"""Backbones of the semi-supervised literature that mmpretrain lacks.

* :class:`ConvLarge`: the 13-layer CNN of Laine & Aila / Mean Teacher used by
  the meta-gradient paper on SVHN and CIFAR (LeakyReLU 0.1, max-pooling then
  Dropout2d twice), with a width knob for small experiments.
* :class:`WideResNet`: WRN-28-2 as used by MixMatch / FixMatch
  (pre-activation blocks, LeakyReLU 0.1, batch-norm momentum 0.001 as in
  Oliver et al.'s realistic SSL evaluation).

Both return the last feature map; mmpretrain's ``GlobalAveragePooling`` neck
and ``LinearClsHead`` complete the classifier.
"""
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.registry import MODELS
from torch import nn

__all__ = ['ConvLarge', 'WideResNet']


@MODELS.register_module()
class ConvLarge(BaseBackbone):
    """ConvLarge: three 3x3 convs, pool, three 3x3 convs, pool, 3x3-1x1-1x1.

    Channels ``c, c, c | 2c, 2c, 2c | 4c, 2c, c`` with ``c = base_channels``
    (128 in the paper); each conv has no bias and is followed by batch norm
    and LeakyReLU. The unpadded 3x3 conv of the last stage needs inputs of at
    least 12x12 (32x32 in the paper; 16x16 works). Without ``init_cfg`` the
    convs keep PyTorch's default initialisation, as the reference's, not
    ``ConvModule``'s Kaiming normal (2.7x smaller in the first conv, 2.4x
    larger in the 3x3 ones after it): with batch norm after every conv the
    weight norm sets the effective step size, and so the size of the
    meta-gradient.

    Args:
        in_channels (int): Input channels. Defaults to 3.
        base_channels (int): ``c``. Defaults to 128.
        dropout (float): Dropout2d probability after each max-pooling
            (the reference's ``stochastic=True``). Defaults to 0.5.
        negative_slope (float): LeakyReLU slope. Defaults to 0.1.
        norm_cfg (dict): Norm layer. Defaults to BN.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 in_channels=3,
                 base_channels=128,
                 dropout=0.5,
                 negative_slope=0.1,
                 norm_cfg=dict(type='BN'),
                 init_cfg=None):
        super().__init__(init_cfg)
        c = base_channels

        def conv(cin, cout, kernel_size):
            return ConvModule(cin,
                              cout,
                              kernel_size,
                              padding=1 if kernel_size == 3 else 0,
                              bias=False,
                              norm_cfg=norm_cfg,
                              act_cfg=dict(type='LeakyReLU',
                                           negative_slope=negative_slope))

        def pool():
            return [nn.MaxPool2d(2, 2), nn.Dropout2d(dropout)]

        self.stage1 = nn.Sequential(conv(in_channels, c, 3), conv(c, c, 3),
                                    conv(c, c, 3), *pool())
        self.stage2 = nn.Sequential(conv(c, 2 * c, 3), conv(2 * c, 2 * c, 3),
                                    conv(2 * c, 2 * c, 3), *pool())
        last = conv(2 * c, 4 * c, 3)
        last.conv.padding = (0, 0)  # the reference's unpadded 3x3 conv
        self.stage3 = nn.Sequential(last, conv(4 * c, 2 * c, 1),
                                    conv(2 * c, c, 1))
        self._reference_init()

    def init_weights(self):
        super().init_weights()
        self._reference_init()

    def _reference_init(self):
        if self.init_cfg is None:
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    module.reset_parameters()

    def forward(self, x):
        return (self.stage3(self.stage2(self.stage1(x))), )


class _PreActBlock(nn.Module):
    """BN-act-conv3x3-BN-act-(dropout)-conv3x3 plus the shortcut; a 1x1
    projection of the pre-activated input where the shape changes."""

    def __init__(self, cin, cout, stride, drop_rate, norm_cfg, act_cfg):
        super().__init__()
        self.bn1 = build_norm_layer(norm_cfg, cin)[1]
        self.act1 = build_activation_layer(act_cfg)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, cout)[1]
        self.act2 = build_activation_layer(act_cfg)
        self.dropout = nn.Dropout(drop_rate)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.projection = (None if cin == cout and stride == 1 else nn.Conv2d(
            cin, cout, 1, stride, bias=False))

    def forward(self, x):
        activated = self.act1(self.bn1(x))
        shortcut = x if self.projection is None else self.projection(activated)
        out = self.conv1(activated)
        out = self.conv2(self.dropout(self.act2(self.bn2(out))))
        return shortcut + out


@MODELS.register_module()
class WideResNet(BaseBackbone):
    """Wide ResNet for 32x32 images (WRN-28-2 by default).

    A 3x3 stem of 16 channels, three groups of ``(depth - 4) / 6``
    pre-activation blocks with ``16k, 32k, 64k`` channels (strides 1, 2, 2),
    then batch norm and activation.

    Args:
        depth (int): ``6n + 4``. Defaults to 28.
        widen_factor (int): ``k``. Defaults to 2.
        in_channels (int): Defaults to 3.
        drop_rate (float): Dropout inside the blocks. Defaults to 0.
        norm_cfg (dict): Defaults to BN with momentum 0.001.
        act_cfg (dict): Defaults to LeakyReLU 0.1.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 depth=28,
                 widen_factor=2,
                 in_channels=3,
                 drop_rate=0.0,
                 norm_cfg=dict(type='BN', momentum=0.001),
                 act_cfg=dict(type='LeakyReLU', negative_slope=0.1),
                 init_cfg=None):
        super().__init__(init_cfg)
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f'WideResNet depth must be 6n + 4, got {depth}')
        blocks = (depth - 4) // 6
        widths = [16 * widen_factor * 2**i for i in range(3)]
        self.stem = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        layers, cin = [], 16
        for i, width in enumerate(widths):
            for j in range(blocks):
                stride = 2 if i > 0 and j == 0 else 1
                layers.append(
                    _PreActBlock(cin, width, stride, drop_rate, norm_cfg,
                                 act_cfg))
                cin = width
        self.layers = nn.Sequential(*layers)
        self.bn = build_norm_layer(norm_cfg, cin)[1]
        self.act = build_activation_layer(act_cfg)

    def forward(self, x):
        return (self.act(self.bn(self.layers(self.stem(x)))), )
