"""mmpretrain, mmrazor and mmagic still work, from their own shipped configs,
with mmext imported: cross-package ``_base_`` inheritance, the mmcls alias that
mmrazor's configs need, int Adam betas, and training/resuming under Runner.

The derivative configs in tests/data/configs/upstream inherit the shipped ones
through ``pkg::`` and change only sizes and data.
"""
import copy
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

import mmext  # noqa: F401  (applies the compatibility layer first)
from mmext import compat
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import Runner

CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'configs',
    'upstream')
RESNET18_CONFIG = osp.join(CONFIGS, 'resnet18_8xb32_in1k_tiny-folder.py')
SPOS_CONFIG = osp.join(CONFIGS, 'spos_shufflenet_supernet_8xb128_in1k_tiny.py')
STYLEGAN2_CONFIG = osp.join(CONFIGS, 'stylegan2_c2_8xb4_tiny-32px.py')


def _write_images(folder, names, size, seed=0):
    import cv2
    rng = np.random.default_rng(seed)
    for name in names:
        path = osp.join(folder, name)
        os.makedirs(osp.dirname(path), exist_ok=True)
        assert cv2.imwrite(path,
                           rng.integers(0, 256, (size, size, 3), np.uint8))


def _base_config(tmp_path, base):
    path = tmp_path / f'child_{abs(hash(base))}.py'
    path.write_text(f'_base_ = [{base!r}]\n')
    return Config.fromfile(str(path))


def _assert_same(a, b, where=''):
    """Recursive equality of state dicts: tensors exactly, the rest by ==."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            _assert_same(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, where


def _without_scope(value):
    if isinstance(value, dict):
        return {
            k: _without_scope(v)
            for k, v in value.items() if k != '_scope_'
        }
    if isinstance(value, (list, tuple)):
        return [_without_scope(v) for v in value]
    return value


# --------------------------------------------------------------------------
# Cross-package inheritance
# --------------------------------------------------------------------------


def test_mmpretrain_base_resolves_across_packages(tmp_path):
    cfg = _base_config(tmp_path, 'mmpretrain::resnet/resnet18_8xb32_in1k.py')
    assert cfg.model.type == 'ImageClassifier'
    assert cfg.model.backbone.type == 'ResNet'
    assert cfg.model.backbone.depth == 18
    assert cfg.model.head.num_classes == 1000
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.optim_wrapper.optimizer.lr == 0.1


def test_derivative_configs_keep_the_shipped_recipes():
    resnet = Config.fromfile(RESNET18_CONFIG)
    assert resnet.model.backbone.depth == 18
    assert resnet.model.head.num_classes == 2
    optimizer = resnet.optim_wrapper.optimizer.to_dict()
    assert optimizer.pop('_scope_') == 'mmpretrain'
    assert optimizer == dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001)
    assert resnet.param_scheduler.milestones == [30, 60, 90]

    gan = Config.fromfile(STYLEGAN2_CONFIG)
    assert gan.model.type == 'StyleGAN2'
    assert gan.model.generator.out_size == 32
    assert gan.model.loss_config.r1_interval == 16
    g_betas = gan.optim_wrapper.generator.optimizer.betas
    # As shipped: an int and a float, which torch >= 2.13 refuses by itself.
    assert type(g_betas[0]) is int and g_betas[0] == 0
    assert g_betas[1] == pytest.approx(0.99**0.8)


# --------------------------------------------------------------------------
# mmcls -> mmpretrain alias (mmrazor 1.0.0 configs and models)
# --------------------------------------------------------------------------


def test_mmcls_registry_scope_resolves_to_mmpretrain():
    import mmpretrain.models as mmpretrain_models
    from mmrazor.registry import MODELS as RAZOR_MODELS

    assert 'mmcls_alias' in compat.APPLIED
    assert MODELS.get('mmcls.ImageClassifier') is \
        mmpretrain_models.ImageClassifier
    assert RAZOR_MODELS.get('mmcls.LinearClsHead') is \
        mmpretrain_models.LinearClsHead

    head_cfg = dict(type='LinearClsHead', num_classes=3, in_channels=4)
    head = RAZOR_MODELS.build(dict(head_cfg, _scope_='mmcls'))
    assert type(head) is mmpretrain_models.LinearClsHead
    assert head.fc.weight.shape == (3, 4)
    # An mmcls-era `default_scope='mmcls'` picks mmpretrain's registry too.
    with DefaultScope.overwrite_default_scope('mmcls'):
        assert type(MODELS.build(head_cfg)) is \
            mmpretrain_models.LinearClsHead


def test_mmcls_modules_are_mmpretrain_modules():
    import mmcls.models.backbones.base_backbone as mmcls_base
    import mmpretrain.models.backbones.base_backbone as mmpretrain_base
    from mmrazor.models import SearchableShuffleNetV2
    from mmrazor.models.architectures.ops import shufflenet_series

    assert mmcls_base is mmpretrain_base
    # mmrazor's classes subclass the real base, not its "mmcls missing"
    # placeholder (whose __init__ raises ImportError).
    assert mmpretrain_base.BaseBackbone in SearchableShuffleNetV2.__mro__
    from mmpretrain.models.utils import channel_shuffle
    assert shufflenet_series.channel_shuffle is channel_shuffle
    # Renamed in mmpretrain: still missing, not silently mapped.
    with pytest.raises(ImportError):
        from mmcls.structures import ClsDataSample  # noqa: F401


def test_mmcls_config_package_resolves_to_mmpretrain(tmp_path):
    old = _base_config(tmp_path, 'mmcls::resnet/resnet18_8xb32_in1k.py')
    new = _base_config(tmp_path, 'mmpretrain::resnet/resnet18_8xb32_in1k.py')
    # Same content; the variables inherited from the mmcls:: file keep the
    # scope they were written for (resolved by the registry alias).
    assert old.model.get('_scope_', 'mmcls') == 'mmcls'
    for key in ('model', 'optim_wrapper', 'train_dataloader',
                'param_scheduler'):
        assert _without_scope(old[key]) == _without_scope(new[key]), key


def test_mmrazor_cfg_path_model_from_mmcls_config():
    """mmrazor's KD/pruning configs build models from ``cfg_path='mmcls::``."""
    import mmpretrain.models as mmpretrain_models
    from mmrazor.registry import MODELS as RAZOR_MODELS

    model = RAZOR_MODELS.build(
        dict(cfg_path='mmcls::resnet/resnet18_8xb16_cifar10.py',
             pretrained=False))
    assert type(model) is mmpretrain_models.ImageClassifier
    assert model.backbone.depth == 18
    assert model.head.fc.out_features == 10
    out = model(torch.rand(2, 3, 32, 32), mode='tensor')
    assert out.shape == (2, 10)


def test_mmrazor_spos_shufflenet_supernet_trains_a_random_subnet():
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.structures import DataSample
    from mmrazor.models import SPOS, SearchableShuffleNetV2
    from mmrazor.models.mutables import OneShotMutableOP

    cfg = Config.fromfile(SPOS_CONFIG)
    # Resolved through the mmcls alias, as shipped.
    assert cfg.model.architecture._scope_ == 'mmcls'
    assert cfg.default_scope == 'mmpretrain'  # from mmcls::default_runtime
    model = MODELS.build(cfg.model)
    assert type(model) is SPOS
    assert type(model.architecture.backbone) is SearchableShuffleNetV2
    mutables = [m for m in model.modules() if isinstance(m, OneShotMutableOP)]
    assert len(mutables) == 20  # 4 + 4 + 8 + 4 searchable blocks
    assert all(len(m.choices) == 4 for m in mutables)

    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = copy.deepcopy(model.state_dict())
    torch.manual_seed(0)
    data = dict(
        inputs=[
            torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
            for _ in range(4)
        ],
        data_samples=[DataSample().set_gt_label(i) for i in (0, 3, 5, 9)])
    # SPOS.loss samples a random subnet, then runs the supernet on it.
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    loss, log_vars = model.parse_losses(losses)
    assert torch.isfinite(loss)
    # A cross entropy over 10 classes at initialisation (label smoothing 0.1).
    assert 1.0 < loss.item() < 10.0
    optim_wrapper.backward(loss)

    for m in mutables:
        chosen = m.current_choice
        assert chosen in m.choices
        for name, candidate in m._candidates.items():
            grads = [p.grad for p in candidate.parameters()]
            if name == chosen:
                assert all(g is not None for g in grads)
            else:
                assert all(g is None for g in grads)
    optim_wrapper.step()
    # Only the sampled path (and the shared stem/head) was updated.
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any('head.fc.weight' in k for k in changed)
    for m in mutables:
        prefix = next(n for n, mod in model.named_modules() if mod is m)
        for name in m.choices:
            moved = any(
                k.startswith(f'{prefix}._candidates.{name}.') for k in changed)
            assert moved == (name == m.current_choice), (prefix, name)


# --------------------------------------------------------------------------
# Adam betas mixing int and float (torch >= 2.13)
# --------------------------------------------------------------------------


def test_int_adam_betas_build_through_mmengine_and_match_torch():
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import OPTIMIZERS

    probe = [torch.nn.Parameter(torch.zeros(1))]
    try:
        torch.optim.Adam(probe, betas=(0, 0.5))
        torch_refuses = False
    except ValueError:
        torch_refuses = True
    assert ('int_adam_betas' in compat.APPLIED) == torch_refuses

    for name in ('Adam', 'AdamW'):
        torch_cls = getattr(torch.optim, name)
        assert issubclass(OPTIMIZERS.get(name), torch_cls)
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2)
        reference = copy.deepcopy(model)
        wrapper = build_optim_wrapper(
            model,
            dict(optimizer=dict(type=name, lr=0.1, betas=(0, 0.99**0.8))))
        optimizer = wrapper.optimizer
        assert isinstance(optimizer, torch_cls)
        betas = optimizer.param_groups[0]['betas']
        assert betas == (0.0, 0.99**0.8)
        assert all(type(b) is float for b in betas)

        ref_optimizer = torch_cls(
            reference.parameters(), lr=0.1, betas=(0.0, 0.99**0.8))
        x = torch.rand(5, 3)
        for _ in range(3):
            wrapper.update_params(model(x).square().sum())
            ref_optimizer.zero_grad()
            reference(x).square().sum().backward()
            ref_optimizer.step()
        for p, q in zip(model.parameters(), reference.parameters()):
            assert torch.equal(p, q)
        # The state is torch's own: it loads into a plain torch optimizer.
        plain = torch_cls(reference.parameters(), lr=0.1)
        plain.load_state_dict(optimizer.state_dict())
        assert plain.param_groups[0]['betas'] == (0.0, 0.99**0.8)

    # Positional betas (params, lr, betas) are converted as well.
    optimizer = OPTIMIZERS.get('Adam')(probe, 0.1, (0, 0))
    assert optimizer.param_groups[0]['betas'] == (0.0, 0.0)
    # Logged as torch's class, and pickles (e.g. for spawned workers).
    assert type(optimizer).__name__ == 'Adam'
    clone = pickle.loads(pickle.dumps(optimizer))
    assert type(clone) is type(optimizer)
    assert clone.param_groups[0]['betas'] == (0.0, 0.0)


# --------------------------------------------------------------------------
# Runner: mmpretrain ResNet-18 (train, checkpoint, resume)
# --------------------------------------------------------------------------


class _CaptureAtStart(Hook):
    """Records the resumed state right before the first resumed iteration."""

    def before_train(self, runner):
        self.iter, self.epoch = runner.iter, runner.epoch
        self.optimizer = copy.deepcopy(runner.optim_wrapper.state_dict())
        self.schedulers = [
            copy.deepcopy(s.state_dict()) for s in runner.param_schedulers
        ]
        self.model = copy.deepcopy(runner.model.state_dict())
        self.hub_iter = runner.message_hub.get_info('iter')
        self.loss_history = runner.message_hub.get_scalar(
            'train/loss').data[0].copy()


def test_mmpretrain_resnet18_trains_and_resumes(tmp_path, monkeypatch):
    assert os.environ.get('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '0') in ('',
                                                                      '0')
    loads = []
    torch_load = torch.load

    def spy_load(*args, **kwargs):
        loads.append(kwargs.get('weights_only'))
        return torch_load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy_load)

    data_root = str(tmp_path / 'data')
    _write_images(data_root, [f'{cls}/{i}.png' for cls in ('cat', 'dog')
                              for i in range(8)], size=40)
    work_dir = str(tmp_path / 'work')

    def make_cfg(max_epochs, resume):
        cfg = Config.fromfile(RESNET18_CONFIG)
        cfg.train_dataloader.dataset.data_root = data_root
        cfg.work_dir = work_dir
        cfg.train_cfg.max_epochs = max_epochs
        cfg.resume = resume
        return cfg

    first = Runner.from_cfg(make_cfg(1, False))
    assert len(first.train_dataloader) == 2  # 16 images, batch 8
    first.train()
    assert first.iter == 2 and first.epoch == 1
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    saved_optimizer = copy.deepcopy(first.optim_wrapper.state_dict())
    saved_schedulers = [s.state_dict() for s in first.param_schedulers]
    saved_model = copy.deepcopy(first.model.state_dict())
    saved_losses = first.message_hub.get_scalar('train/loss').data[0].copy()
    assert len(saved_losses) == 2 and np.isfinite(saved_losses).all()
    momentum = saved_optimizer['state'][0]['momentum_buffer']
    assert momentum.abs().sum() > 0

    second = Runner.from_cfg(make_cfg(2, True))
    capture = _CaptureAtStart()
    second.register_hook(capture)
    second.train()

    # Resumed exactly where the first run stopped ...
    assert (capture.iter, capture.epoch) == (2, 1)
    _assert_same(capture.optimizer, saved_optimizer, 'optimizer')
    _assert_same(capture.schedulers, saved_schedulers, 'scheduler')
    _assert_same(capture.model, saved_model, 'model')
    assert capture.hub_iter == 2
    np.testing.assert_array_equal(capture.loss_history, saved_losses)
    # ... and went on: two more iterations, a second checkpoint.
    assert second.iter == 4 and second.epoch == 2
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    steps = second.optim_wrapper.state_dict()['state'][0]['momentum_buffer']
    assert not torch.equal(steps, momentum)
    assert len(second.message_hub.get_scalar('train/loss').data[0]) == 4

    # Every load went through torch's weights_only unpickler.
    assert loads and all(w is True for w in loads), loads


# --------------------------------------------------------------------------
# Runner: mmagic StyleGAN2 at 32 px on the CPU (mmcv-lite fallbacks)
# --------------------------------------------------------------------------


def test_mmagic_stylegan2_trains_two_iterations_on_cpu(tmp_path):
    from mmagic.models import StyleGAN2

    from mmext.checkpoint import load_local_checkpoint

    data_root = str(tmp_path / 'faces')
    _write_images(data_root, [f'{i}.png' for i in range(4)], size=32)
    cfg = Config.fromfile(STYLEGAN2_CONFIG)
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    assert type(runner.model) is StyleGAN2
    before = copy.deepcopy(runner.model.state_dict())
    runner.train()

    assert runner.iter == 2
    g_ratio, d_ratio = 4 / 5, 16 / 17
    for name, ratio in (('generator', g_ratio), ('discriminator', d_ratio)):
        optimizer = runner.optim_wrapper[name].optimizer
        assert isinstance(optimizer, torch.optim.Adam)
        assert optimizer.param_groups[0]['betas'] == (0.0, 0.99**ratio)
        assert optimizer.param_groups[0]['lr'] == pytest.approx(0.002 * ratio)
        steps = {float(s['step']) for s in optimizer.state.values()}
        assert steps == {2.0}
    # Iteration 0 runs the R1 and path-length regularisers (intervals 16/4).
    hub = runner.message_hub
    for key in ('loss_disc_fake', 'loss_disc_real', 'loss_gen', 'loss_r1_gp',
                'loss_path_regular'):
        values = hub.get_scalar(f'train/{key}').data[0]
        assert np.isfinite(values).all() and len(values) >= 1, key
    assert len(hub.get_scalar('train/loss_gen').data[0]) == 2
    assert len(hub.get_scalar('train/loss_r1_gp').data[0]) == 1

    after = runner.model.state_dict()
    for part in ('generator.', 'discriminator.'):
        keys = [k for k in before if k.startswith(part)]
        assert any(not torch.equal(before[k], after[k]) for k in keys), part
    # The EMA generator followed the generator.
    ema_keys = [k for k in before if k.startswith('generator_ema.')]
    assert any(not torch.equal(before[k], after[k]) for k in ema_keys)

    # The end-of-training checkpoint loads through the safe loader.
    checkpoint = load_local_checkpoint(
        osp.join(cfg.work_dir, 'iter_2.pth'), map_location='cpu')
    assert checkpoint['meta']['iter'] == 2
    _assert_same(checkpoint['state_dict'], after, 'state_dict')
    assert set(checkpoint['optimizer']) == {'generator', 'discriminator'}
