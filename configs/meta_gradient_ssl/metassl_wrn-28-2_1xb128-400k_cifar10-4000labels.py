# The CIFAR-10 @ 4000 labels recipe with WRN-28-2, the backbone of MixMatch
# and FixMatch (their CIFAR-10 @ 4000 errors: 6.24 and 4.26).
_base_ = ['./metassl_convlarge_1xb128-400k_cifar10-4000labels.py']

model = dict(backbone=dict(_delete_=True,
                           type='WideResNet',
                           depth=28,
                           widen_factor=2),
             head=dict(in_channels=128))
