"""Semi-supervised learning with meta-gradient (Zhang et al., AISTATS 2021):
the algorithm, labeled/unlabeled data, and the paper's backbones, registered
in mmpretrain's registries."""
from .backbones import ConvLarge, WideResNet
from .data import (LabeledUnlabeledSampler, SaveLabeledSplitHook,
                   SemiSplitDataset, SemiSupervisedError,
                   labeled_unlabeled_collate)
from .meta_gradient import (exact_meta_gradient, first_order_meta_gradient,
                            update_pseudo_labels)
from .meta_gradient_ssl import (MetaGradientSSL, MetaGradientSSLDDP,
                                consistency_loss, cross_domain_mixup,
                                linear_rampup)
from .svhn import SVHN

__all__ = [
    'ConvLarge', 'LabeledUnlabeledSampler', 'MetaGradientSSL',
    'MetaGradientSSLDDP', 'SVHN',
    'SaveLabeledSplitHook', 'SemiSplitDataset', 'SemiSupervisedError',
    'WideResNet', 'consistency_loss', 'cross_domain_mixup',
    'exact_meta_gradient', 'first_order_meta_gradient',
    'labeled_unlabeled_collate', 'linear_rampup', 'update_pseudo_labels'
]
