"""Convert the checkpoints of the official structured-sparsification code
(Sakura03/StrucSpars) to mmext's ``StructuredSparsification`` model.

    python tools/model_converters/strucspars_to_mmext.py \\
        results/cifar10-resnet20/seed0/finetune-checkpoint.pth converted.pth \\
        [--config configs/strucspars/CONFIG-sparsify.py]

The official code publishes no trained weights. Its training writes
``{'epoch', 'state_dict', 'best_acc1', 'optimizer'}`` files (ImageNet ones
with DistributedDataParallel's ``module.`` prefix):

* ``checkpoint.pth`` during sparsification: dense weights and, for each
  ``GroupableConv2d``, the buffers ``P``, ``P_inv``, ``Q``, ``Q_inv`` and
  ``struc_reg_mat`` (the shuffled cost matrix of the current group level);
* ``finetune-checkpoint.pth`` (and ``model_best.pth``) after fine-tuning, the
  paper's final model: the *masked* dense model. Real grouping is commented
  out in the official scripts, so the weights keep their dense shape, zero
  outside the block diagonal of ``W[P][:, Q]``; ``struc_reg_mat`` is gone
  and the group level (a plain attribute) is not saved.

Both are the trained sparse model, not a deploy model, so they map to mmext's
``StructuredSparsification`` (the ``*-sparsify.py`` configs): the wrapped
architecture's weights unchanged, and per sparsified conv a ``ConvShuffle``
with ``out_perm = P``, ``in_perm = Q`` (the same convention: ``W[P][:, Q]``
is block diagonal) and ``groups``: from ``struc_reg_mat`` when saved (its
deepest nonzero block level ``L`` gives ``2**(L-1)``, as the official
grouping does), else the deepest block diagonal outside which the weights
are exactly zero (the masked model). ``tools/strucspars/export.py CONFIG
converted.pth --prune-ratio 0`` then writes the grouped deploy model with
exactly these groups.

Architectures: the CIFAR ResNets (resnet_cifar.py), the ImageNet ResNets
(resnet.py, torchvision's layout) and the DenseNets (densenet.py,
torchvision's layout), each to mmpretrain's backbone of the mmext config.
The official CIFAR stem is a 1x1 conv with padding 1 (34x34 maps), mmext's
``CifarResNet`` stem a 3x3 conv with padding 1: the 1x1 kernel becomes the
centre of a zero 3x3 kernel, which computes the same inside the image but
drops the official one-pixel ring, so CIFAR accuracies must be re-measured.
"""
import re
from collections import OrderedDict

import torch
import torch.nn.functional as F

from mmext.model_converters import (ConversionError, converter_main,
                                    rename_keys)

# A (Groupable)Conv2d without bias (its groups folded in), a BatchNorm2d.
_CONV = r'(?:weight|P|Q|groups)'
_BN = r'(?:weight|bias|running_mean|running_var|num_batches_tracked)'
# The official DenseNets' deepest dense block (DenseNet-201: 48 layers).
_MAX_DENSE_LAYERS = 48


def _stem(weight):
    """The CIFAR ResNets' 1x1 stem kernel as the centre of a 3x3 one; the
    ImageNet stems keep their 7x7 kernel."""
    return F.pad(weight, (1, 1, 1, 1)) if weight.shape[-1] == 1 else weight


RESNET_RULES = [
    (r'conv1\.weight', 'architecture.backbone.conv1.weight', _stem),
    (rf'bn1\.({_BN})', r'architecture.backbone.bn1.\1', None),
    (rf'(layer\d+\.\d+\.(?:conv\d|downsample\.0)\.{_CONV})',
     r'architecture.backbone.\1', None),
    (rf'(layer\d+\.\d+\.(?:bn\d|downsample\.1)\.{_BN})',
     r'architecture.backbone.\1', None),
    (r'fc\.(weight|bias)', r'architecture.head.fc.\1', None),
]
# torchvision counts dense blocks and layers from 1, mmpretrain from 0.
DENSENET_RULES = [
    (r'features\.conv0\.weight', 'architecture.backbone.stem.0.weight', None),
    (rf'features\.norm0\.({_BN})', r'architecture.backbone.stem.1.\1', None),
    *[(rf'features\.denseblock{block + 1}\.denselayer{layer + 1}\.'
       rf'(conv[12]\.{_CONV}|norm[12]\.{_BN})',
       rf'architecture.backbone.stages.{block}.block.{layer}.\1', None)
      for block in range(4) for layer in range(_MAX_DENSE_LAYERS)],
    *[(rf'features\.transition{block + 1}\.(conv\.{_CONV}|norm\.{_BN})',
       rf'architecture.backbone.transitions.{block}.\1', None)
      for block in range(3)],
    # The final norm (and ReLU) is mmpretrain's last transition.
    (rf'features\.norm5\.({_BN})', r'architecture.backbone.transitions.3.0.\1',
     None),
    (r'classifier\.(weight|bias)', r'architecture.head.fc.\1', None),
]
RULES = RESNET_RULES + DENSENET_RULES

# mmext's ConvShuffle buffer for each official GroupableConv2d buffer.
SHUFFLE_BUFFERS = {'P': 'out_perm', 'Q': 'in_perm', 'groups': 'groups'}


def official_groups(weight, out_perm, in_perm, struc_reg_mat=None):
    """The group count of one official ``GroupableConv2d``.

    Args:
        weight (Tensor): Its dense (possibly masked) weight.
        out_perm (Tensor): ``P``.
        in_perm (Tensor): ``Q``.
        struc_reg_mat (Tensor, optional): Its saved shuffled cost matrix;
            the official group level ``L`` is its deepest nonzero block
            level and the layer has ``2**(L-1)`` groups.
    """
    # mmext.razor (and with it mmrazor) loads on first use, so that a file
    # with unknown keys is refused without waiting for it.
    from mmext.razor.strucspars import grouping
    from mmext.razor.strucspars.permutation import split_levels

    out_perm, in_perm = out_perm.numpy(), in_perm.numpy()
    if struc_reg_mat is not None:
        cost = struc_reg_mat.numpy()[out_perm][:, in_perm]
        split = split_levels(*cost.shape)
        level = int(split[cost > 0].max(initial=0))
        return 2**max(level - 1, 0)
    # Masked weights: the deepest grouping that removes no weight mass.
    norm = weight.detach().abs().sum(dim=(2, 3)).double().numpy()
    removed = grouping.removed_fractions(norm[out_perm][:, in_perm])
    return grouping.groups_at(removed, 0.0)


def fold_groupable_convs(state_dict):
    """Replace each official ``GroupableConv2d``'s ``P_inv``, ``Q_inv`` and
    ``struc_reg_mat`` by its ``groups`` (official names kept)."""
    out = OrderedDict(state_dict)
    for key in state_dict:
        if not key.endswith('.P'):
            continue
        conv = key[:-len('.P')]
        needed = [
            f'{conv}.{name}' for name in ('weight', 'Q', 'P_inv', 'Q_inv')
        ]
        absent = [name for name in needed if name not in out]
        if absent:
            raise ConversionError(
                f'the official GroupableConv2d {conv} lacks {absent}')
        perm_out, perm_in = out[key], out[f'{conv}.Q']
        for perm, inverse in ((perm_out, out.pop(f'{conv}.P_inv')),
                              (perm_in, out.pop(f'{conv}.Q_inv'))):
            if not torch.equal(torch.argsort(perm), inverse.long()):
                raise ConversionError(
                    f'{conv}: P_inv / Q_inv are not the inverses of P / Q')
        out[f'{conv}.groups'] = torch.tensor(
            official_groups(out[f'{conv}.weight'], perm_out, perm_in,
                            out.pop(f'{conv}.struc_reg_mat', None)))
    return out


def move_shuffles(state_dict):
    """``architecture.<conv>.P/Q/groups`` -> mmext's
    ``shuffles.<conv>.out_perm/in_perm/groups``."""
    from mmext.razor.strucspars import StructuredSparsification

    out = OrderedDict()
    for key, value in state_dict.items():
        match = re.fullmatch(r'architecture\.(.+)\.(P|Q|groups)', key)
        if match is None:
            out[key] = value
            continue
        conv, buffer = match.groups()
        key = StructuredSparsification._key(conv)
        out[f'shuffles.{key}.{SHUFFLE_BUFFERS[buffer]}'] = value.long()
    return out


def convert(state_dict):
    """Official StrucSpars checkpoint -> mmext ``StructuredSparsification``.
    """
    if state_dict.get('conv1.weight', torch.empty(0, 0, 0, 0)).shape[-1] == 1:
        print('note: the official CIFAR stem (1x1 conv, padding 1) becomes '
              "the centre of mmext's 3x3 stem; outputs differ at the border")
    return move_shuffles(rename_keys(fold_groupable_convs(state_dict), RULES))


if __name__ == '__main__':
    converter_main(
        convert, 'Convert an official StrucSpars checkpoint (sparsification '
        "or fine-tuned masked model) to mmext's StructuredSparsification")
