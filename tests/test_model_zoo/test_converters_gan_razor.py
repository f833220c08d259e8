"""Official-checkpoint converters of ELEGANT (Prinsphield/ELEGANT) and
structured sparsification (Sakura03/StrucSpars).

The fixtures are state dicts with the official names and shapes, generated
from tables written down from the official model definitions (ELEGANT's
nets.py; StrucSpars' groupconv.py, resnet_cifar.py, resnet.py, densenet.py)
and from what their training scripts save.
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

import mmext  # noqa: F401  (applies the compatibility layer first)
from mmext.errors import UserError
from mmext.model_converters import check_fits_config, load_release
from tests.conftest import REPO, load_tool, run_tool

CONVERTERS = osp.join(REPO, 'tools', 'model_converters')
ELEGANT_TOOL = osp.join(CONVERTERS, 'elegant_to_mmext.py')
STRUCSPARS_TOOL = osp.join(CONVERTERS, 'strucspars_to_mmext.py')
ELEGANT_CONFIG = osp.join(
    REPO, 'configs/elegant/elegant_1xb16-200kiters_celeba-256x256.py')
CIFAR_CONFIG = osp.join(
    REPO, 'configs/strucspars/'
    'strucspars-p50_cifar-resnet20_1xb64-100e_cifar10-sparsify.py')


@pytest.fixture(scope='module')
def elegant():
    return load_tool(ELEGANT_TOOL)


@pytest.fixture(scope='module')
def strucspars():
    return load_tool(STRUCSPARS_TOOL)


def _bn(prefix, channels):
    return {
        f'{prefix}.weight': torch.rand(channels) + 0.5,
        f'{prefix}.bias': torch.randn(channels),
        f'{prefix}.running_mean': torch.randn(channels),
        f'{prefix}.running_var': torch.rand(channels) + 0.5,
        f'{prefix}.num_batches_tracked': torch.tensor(7),
    }


# ---------------------------------------------------------------------------
# ELEGANT (nets.py): Encoder.main[k] = Conv2d(3x3, s2) -> Normalization
# (alpha, beta of shape (1,)) -> LeakyReLU; Decoder.main[k] =
# ConvTranspose2d(3x3, s2) (weight in x out) -> Normalization -> ReLU, the
# last one a bare ConvTranspose2d; Discriminator(n, size).conv = 4 x [Conv2d,
# Normalization, LeakyReLU], linear = [Linear(512 * (size // 16)**2, 1),
# Sigmoid]. D1 has size 256, D2 128 (ELEGANT.py, nchw = [16, 3, 256, 256]).
# ---------------------------------------------------------------------------
ENCODER_WIDTHS = (3, 64, 128, 256, 512, 512)
DECODER_WIDTHS = (1024, 512, 256, 128, 64, 3)
DISCRIMINATOR_WIDTHS = (64, 128, 256, 512)
NUM_ATTRIBUTES = 3  # Bangs, Mustache, Smiling in the paper config


def _norm(prefix):
    return {
        f'{prefix}.alpha': torch.rand(1) + 0.5,
        f'{prefix}.beta': torch.randn(1)
    }


def official_encoder():
    sd = {}
    for k, (c_in,
            c_out) in enumerate(zip(ENCODER_WIDTHS[:-1], ENCODER_WIDTHS[1:])):
        sd[f'main.{k}.0.weight'] = torch.randn(c_out, c_in, 3, 3)
        sd[f'main.{k}.0.bias'] = torch.randn(c_out)
        sd.update(_norm(f'main.{k}.1'))
    return sd


def official_decoder():
    sd = {}
    last = len(DECODER_WIDTHS) - 2
    for k, (c_in,
            c_out) in enumerate(zip(DECODER_WIDTHS[:-1], DECODER_WIDTHS[1:])):
        sd[f'main.{k}.0.weight'] = torch.randn(c_in, c_out, 3, 3)
        sd[f'main.{k}.0.bias'] = torch.randn(c_out)
        if k < last:
            sd.update(_norm(f'main.{k}.1'))
    return sd


def official_discriminator(img_size):
    sd = {}
    widths = (3 + NUM_ATTRIBUTES, ) + DISCRIMINATOR_WIDTHS
    for block, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
        sd[f'conv.{3 * block}.weight'] = torch.randn(c_out, c_in, 3, 3)
        sd[f'conv.{3 * block}.bias'] = torch.randn(c_out)
        sd.update(_norm(f'conv.{3 * block + 1}'))
    sd['linear.0.weight'] = torch.randn(1, 512 * (img_size // 16)**2)
    sd['linear.0.bias'] = torch.randn(1)
    return sd


def write_elegant_step(folder, nets, step=34000):
    """The files the official save_model writes for one step."""
    tables = dict(Enc=official_encoder,
                  Dec=official_decoder,
                  D1=lambda: official_discriminator(256),
                  D2=lambda: official_discriminator(128))
    written = {}
    for net in nets:
        written[net] = tables[net]()
        torch.save(written[net], osp.join(folder,
                                          f'{net}_iter_{step:06d}.pth'))
    return written


def test_elegant_release_loads_exactly_and_keeps_values(elegant, tmp_path):
    official = write_elegant_step(tmp_path, ('Enc', 'Dec', 'D1', 'D2'))
    # Any of the step's files names the step.
    converted = elegant.convert(
        elegant.load_elegant_release(str(tmp_path / 'D2_iter_034000.pth')))
    check_fits_config(converted, ELEGANT_CONFIG)  # no missing / unexpected
    assert len(converted) == sum(map(len, official.values()))
    # The decoder's first transposed conv keeps its (in, out, k, k) layout,
    # D2 (half resolution) is mmext's second scale, Normalization's scalars
    # follow their block.
    assert torch.equal(converted['generator.decoder.0.0.weight'],
                       official['Dec']['main.0.0.weight'])
    assert torch.equal(converted['discriminator.scales.1.linear.weight'],
                       official['D2']['linear.0.weight'])
    assert torch.equal(converted['discriminator.scales.0.conv.10.beta'],
                       official['D1']['conv.10.beta'])
    assert torch.equal(converted['generator.encoder.4.1.alpha'],
                       official['Enc']['main.4.1.alpha'])
    # The keys a generator-only release may lack are exactly mmext's
    # discriminator keys.
    assert sorted(elegant.DISCRIMINATOR_KEYS) == sorted(
        k for k in converted if k.startswith('discriminator.'))


def test_elegant_generator_only_and_incomplete_steps(elegant, tmp_path):
    official = write_elegant_step(tmp_path, ('Enc', 'Dec'))
    converted = elegant.convert(
        elegant.load_elegant_release(str(tmp_path / 'Enc_iter_034000.pth')))
    assert len(converted) == len(official['Enc']) + len(official['Dec'])
    check_fits_config(converted,
                      ELEGANT_CONFIG,
                      optional_keys=elegant.DISCRIMINATOR_KEYS)
    # D1 without D2, and a file that is not an official one.
    write_elegant_step(tmp_path, ('D1', ))
    with pytest.raises(UserError, match='D2_iter_034000.pth'):
        elegant.load_elegant_release(str(tmp_path / 'Enc_iter_034000.pth'))
    with pytest.raises(UserError, match='not a file of the official'):
        elegant.load_elegant_release(str(tmp_path / 'generator.pth'))


def test_elegant_cli_names_unknown_key(tmp_path, python):
    torch.save(
        {
            'main.0.0.weight': torch.zeros(64, 3, 3, 3),
            'main.0.2.scale': torch.zeros(1)
        }, tmp_path / 'Enc_iter_000100.pth')
    torch.save({'main.4.0.bias': torch.zeros(3)},
               tmp_path / 'Dec_iter_000100.pth')
    result = run_tool(python, ELEGANT_TOOL, tmp_path / 'Enc_iter_000100.pth',
                      tmp_path / 'out.pth')
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
    assert '1 keys' in lines[0] and 'Enc.main.0.2.scale' in lines[0]
    assert not (tmp_path / 'out.pth').exists()


# ---------------------------------------------------------------------------
# StrucSpars. GroupableConv2d (groupconv.py) is an nn.Conv2d (weight, no
# bias here) with int64 buffers P, P_inv (C_out), Q, Q_inv (C_in) and, until
# mask_group deletes it, struc_reg_mat (C_out, C_in): the cost matrix of its
# group level L (off-diagonal quadrants 1, then power * that inside each
# diagonal quadrant, L levels deep), rows/columns reordered by P_inv/Q_inv.
# mask_group keeps the 2**(L-1)-block diagonal of W[P][:, Q].
# ---------------------------------------------------------------------------
POWER = 0.5


def groupable_conv(prefix, c_out, c_in, k, groups, stage):
    """One official GroupableConv2d: random P, Q; ``stage`` 'finetune' gives
    the masked weight (groups blocks), 'sparsify' the dense weight and the
    struc_reg_mat of group level log2(groups) + 1."""
    perm_out, perm_in = torch.randperm(c_out), torch.randperm(c_in)
    inv_out, inv_in = torch.argsort(perm_out), torch.argsort(perm_in)
    weight = torch.randn(c_out, c_in, k, k)
    level = groups.bit_length()  # groups = 2**(level - 1)
    sd = {
        f'{prefix}.weight': weight,
        f'{prefix}.P': perm_out,
        f'{prefix}.P_inv': inv_out,
        f'{prefix}.Q': perm_in,
        f'{prefix}.Q_inv': inv_in
    }
    if stage == 'finetune':
        keep = ((inv_out[:, None] // (c_out // groups)) == (inv_in[None, :] //
                                                            (c_in // groups)))
        sd[f'{prefix}.weight'] = weight * keep[:, :, None, None]
    else:
        # Entry (i, j) sits at (P_inv[i], Q_inv[j]) of the shuffled matrix
        # and costs power**(d - 1) if the blocks separate it at level d.
        cost = torch.zeros(c_out, c_in)
        for d in range(level, 0, -1):
            apart = ((inv_out[:, None] // (c_out >> d))
                     != (inv_in[None, :] // (c_in >> d)))
            cost[apart] = POWER**(d - 1)
        sd[f'{prefix}.struc_reg_mat'] = cost
    return sd


def official_cifar_resnet20(stage, groups_of):
    """resnet_cifar.resnet20(num_classes=10): a 1x1 stem conv (padding 1),
    three stages of three BasicBlocks (16, 32, 64 planes, strides 1, 2, 2),
    a 1x1 conv + BN projection where the shape changes, fc 64 -> 10."""
    sd = {'conv1.weight': torch.randn(16, 3, 1, 1), **_bn('bn1', 16)}
    in_planes = 16
    for stage_id, (planes, stride) in enumerate(((16, 1), (32, 2), (64, 2))):
        for block in range(3):
            name = f'layer{stage_id + 1}.{block}'
            step = stride if block == 0 else 1
            for conv, c_in in (('conv1', in_planes), ('conv2', planes)):
                sd.update(
                    groupable_conv(f'{name}.{conv}', planes, c_in, 3,
                                   groups_of(f'{name}.{conv}'), stage))
            sd.update(_bn(f'{name}.bn1', planes))
            sd.update(_bn(f'{name}.bn2', planes))
            if step != 1 or in_planes != planes:
                sd.update(
                    groupable_conv(f'{name}.downsample.0', planes,
                                   in_planes, 1,
                                   groups_of(f'{name}.downsample.0'), stage))
                sd.update(_bn(f'{name}.downsample.1', planes))
            in_planes = planes
    sd['fc.weight'] = torch.randn(10, 64)
    sd['fc.bias'] = torch.randn(10)
    return sd


def _groups_of(name):
    """A different grouping per layer: 1, 2, 4 or 8 blocks."""
    return 2**(sum(map(ord, name)) % 4)


@pytest.fixture(scope='module')
def cifar_model():
    from mmext.engine import build_model
    return build_model(CIFAR_CONFIG)


@pytest.mark.parametrize('stage', ['finetune', 'sparsify'])
def test_strucspars_cifar_checkpoint_loads_exactly(strucspars, cifar_model,
                                                   stage, tmp_path):
    from mmext.checkpoint import load_state_dict_exactly
    from mmext.razor.strucspars import to_deploy

    official = official_cifar_resnet20(stage, _groups_of)
    # As train_cifar.py saves it.
    torch.save({
        'epoch': 160,
        'state_dict': official,
        'best_acc1': 91.0
    }, tmp_path / 'checkpoint.pth')
    converted = strucspars.convert(load_release(tmp_path / 'checkpoint.pth'))
    load_state_dict_exactly(cifar_model, converted, 'converted')

    conv = 'layer2.1.conv1'
    shuffle = cifar_model.shuffle(f'backbone.{conv}')
    assert torch.equal(shuffle.out_perm, official[f'{conv}.P'])
    assert torch.equal(shuffle.in_perm, official[f'{conv}.Q'])
    assert int(shuffle.groups) == _groups_of(conv)
    assert cifar_model.groups() == {
        name: _groups_of(name[len('backbone.'):])
        for name in cifar_model.conv_names
    }
    assert torch.equal(converted[f'architecture.backbone.{conv}.weight'],
                       official[f'{conv}.weight'])
    # The 1x1 stem is the centre of the 3x3 one.
    stem = converted['architecture.backbone.conv1.weight']
    assert torch.equal(stem[:, :, 1, 1], official['conv1.weight'][:, :, 0, 0])
    ring = stem.clone()
    ring[:, :, 1, 1] = 0
    assert stem.shape == (16, 3, 3, 3) and not ring.any()

    if stage == 'finetune':
        # export.py --prune-ratio 0 keeps exactly these groups.
        assert cifar_model.groups_for_ratio(0.0)[1] == cifar_model.groups()
        # The grouped deploy conv computes what the official masked conv
        # does: x -> conv2d(x, W) with W zero outside the blocks.
        deploy = to_deploy(cifar_model)
        x = torch.randn(2, 32, 8, 8)
        with torch.no_grad():
            grouped = deploy.backbone.get_submodule(conv)
            assert grouped.groups == _groups_of(conv) > 1
            torch.testing.assert_close(
                grouped(x), F.conv2d(x, official[f'{conv}.weight'], padding=1))
    else:
        assert not any('struc_reg_mat' in k or '_inv' in k for k in converted)


def official_resnet50(stage):
    """resnet.resnet50(): torchvision's layout with GroupableConv2d for every
    conv but the 7x7 stem; Bottlenecks (1x1, 3x3, 1x1 x4) of 64, 128, 256,
    512 planes, 3, 4, 6, 3 blocks, a 1x1 conv + BN projection in each first
    block; fc 2048 -> 1000."""
    sd = {'conv1.weight': torch.randn(64, 3, 7, 7), **_bn('bn1', 64)}
    in_planes = 64
    for stage_id, (planes,
                   blocks) in enumerate(zip((64, 128, 256, 512),
                                            (3, 4, 6, 3))):
        for block in range(blocks):
            name = f'layer{stage_id + 1}.{block}'
            for conv, c_out, c_in, k in (('conv1', planes, in_planes,
                                          1), ('conv2', planes, planes, 3),
                                         ('conv3', 4 * planes, planes, 1)):
                sd.update(
                    groupable_conv(f'{name}.{conv}', c_out, c_in, k,
                                   _groups_of(f'{name}.{conv}'), stage))
                sd.update(_bn(f'{name}.bn{conv[-1]}', c_out))
            if block == 0:
                sd.update(
                    groupable_conv(f'{name}.downsample.0', 4 * planes,
                                   in_planes, 1, _groups_of(name), stage))
                sd.update(_bn(f'{name}.downsample.1', 4 * planes))
            in_planes = 4 * planes
    sd['fc.weight'] = torch.randn(1000, 2048)
    sd['fc.bias'] = torch.randn(1000)
    return sd


def official_densenet201(stage):
    """densenet.densenet201(): torchvision's layout (growth 32, bn_size 4,
    blocks of 6, 12, 48, 32 layers, 64 stem channels) with GroupableConv2d
    for the dense layers' and transitions' convs; classifier 1920 -> 1000."""
    sd = {
        'features.conv0.weight': torch.randn(64, 3, 7, 7),
        **_bn('features.norm0', 64)
    }
    features = 64
    for block, layers in enumerate((6, 12, 48, 32)):
        for layer in range(layers):
            name = f'features.denseblock{block + 1}.denselayer{layer + 1}'
            c_in = features + 32 * layer
            sd.update(_bn(f'{name}.norm1', c_in))
            sd.update(
                groupable_conv(f'{name}.conv1', 128, c_in, 1,
                               _groups_of(f'{name}.conv1'), stage))
            sd.update(_bn(f'{name}.norm2', 128))
            sd.update(
                groupable_conv(f'{name}.conv2', 32, 128, 3,
                               _groups_of(f'{name}.conv2'), stage))
        features += 32 * layers
        if block < 3:
            name = f'features.transition{block + 1}'
            sd.update(_bn(f'{name}.norm', features))
            sd.update(
                groupable_conv(f'{name}.conv', features // 2, features, 1,
                               _groups_of(name), stage))
            features //= 2
    sd.update(_bn('features.norm5', features))
    sd['classifier.weight'] = torch.randn(1000, features)
    sd['classifier.bias'] = torch.randn(1000)
    return sd


@pytest.mark.parametrize('config, official, conv', [
    ('strucspars-p65_resnet50_8xb64-60e_in1k-sparsify.py', official_resnet50,
     'layer3.2.conv2'),
    ('strucspars-p38_densenet201_8xb64-60e_in1k-sparsify.py',
     official_densenet201, 'features.denseblock3.denselayer40.conv1'),
])
def test_strucspars_imagenet_checkpoints_load_exactly(strucspars, tmp_path,
                                                      config, official, conv):
    official = official('finetune')
    # As train_imagenet.py saves it: DistributedDataParallel's prefix.
    torch.save({'state_dict': {
        f'module.{k}': v
        for k, v in official.items()
    }}, tmp_path / 'finetune-checkpoint.pth')
    converted = strucspars.convert(
        load_release(tmp_path / 'finetune-checkpoint.pth'))
    check_fits_config(converted, osp.join(REPO, 'configs/strucspars', config))
    mmext_conv = (conv.replace('features.denseblock3.denselayer40',
                               'stages.2.block.39'))
    key = 'shuffles.backbone-' + mmext_conv.replace('.', '-')
    assert torch.equal(converted[f'{key}.out_perm'], official[f'{conv}.P'])
    assert int(converted[f'{key}.groups']) == _groups_of(conv)
    assert torch.equal(converted[f'architecture.backbone.{mmext_conv}.weight'],
                       official[f'{conv}.weight'])


def test_strucspars_cli_names_unknown_key(tmp_path, python):
    # As train_imagenet.py saves it: DistributedDataParallel's prefix.
    official = {f'module.{k}': v for k, v in _bn('bn1', 4).items()}
    official['module.layer1.0.conv1.mystery'] = torch.zeros(1)
    torch.save({
        'epoch': 1,
        'state_dict': official,
        'best_acc1': 0.0
    }, tmp_path / 'finetune-checkpoint.pth')
    result = run_tool(python, STRUCSPARS_TOOL,
                      tmp_path / 'finetune-checkpoint.pth',
                      tmp_path / 'out.pth')
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
    assert '1 keys' in lines[0] and 'layer1.0.conv1.mystery' in lines[0]
