"""Semi-supervised learning with meta-gradient (issue 13): meta-gradients,
pseudo labels, losses, the labeled/unlabeled split, sampler and collate,
the backbones, SVHN, and every config's model on tiny tensors."""
import glob
import itertools
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mmext  # noqa: F401  (compatibility layer first)
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmext.classification.datasets import FewShotDataset, SklearnDigits
from mmext.classification.semi import (
    SVHN, LabeledUnlabeledSampler, SemiSplitDataset, SemiSupervisedError,
    WideResNet, consistency_loss, cross_domain_mixup, exact_meta_gradient,
    first_order_meta_gradient, labeled_unlabeled_collate, linear_rampup,
    update_pseudo_labels)
from mmext.errors import UserError
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'meta_gradient_ssl', '*.py')))
DIGITS_SSL = [c for c in CONFIGS if 'digits' in c and 'metassl' in c][0]
NUM_CLASSES = 5


@pytest.fixture(autouse=True)
def _mmpretrain_scope():
    init_default_scope('mmpretrain')


def tiny_model(**kwargs):
    """MetaGradientSSL with a 4-channel ConvLarge at 16 px, 5 classes."""
    torch.manual_seed(0)
    cfg = dict(type='MetaGradientSSL',
               backbone=dict(type='ConvLarge', base_channels=4),
               neck=dict(type='GlobalAveragePooling'),
               head=dict(type='LinearClsHead',
                         num_classes=NUM_CLASSES,
                         in_channels=4))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def tiny_batch(seed=1, labeled=6, unlabeled=6):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(labeled, 3, 16, 16, generator=g),
            torch.randint(0, NUM_CLASSES, (labeled, ), generator=g),
            torch.randn(unlabeled, 3, 16, 16, generator=g))


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


# --------------------------------------------------------- meta-gradient


def test_first_order_meta_gradient_agrees_with_exact():
    model = tiny_model().eval()
    x_l, y, x_u = tiny_batch()
    params = dict(model.named_parameters())
    with torch.no_grad():
        predictions = F.softmax(model(x_u), dim=1)
    approx = first_order_meta_gradient(model._classify, params, x_l, y, x_u)
    exact = exact_meta_gradient(model._classify, params, x_l, y, x_u,
                                predictions)
    assert approx.shape == exact.shape == (6, NUM_CLASSES)
    cosine = F.cosine_similarity(approx.flatten(), exact.flatten(), dim=0)
    assert cosine > 0.9
    # Same quantity, not only the same direction (both drop the same
    # constants of the unrolled step).
    assert approx.norm() / exact.norm() == pytest.approx(1.0, abs=0.1)


def test_exact_meta_gradient_is_twice_jacobian_times_labeled_gradient():
    """At y~ = predictions the unrolled step is the identity, so
    dL(theta~)/dy~ = 2 J grad L: checked against an explicit Jacobian."""
    model = tiny_model(backbone=dict(type='ConvLarge', base_channels=2),
                       head=dict(type='LinearClsHead',
                                 num_classes=3,
                                 in_channels=2)).eval()
    x_l, _, x_u = tiny_batch(seed=3, labeled=4, unlabeled=2)
    y = torch.tensor([0, 1, 2, 1])
    params = dict(model.named_parameters())
    with torch.no_grad():
        predictions = F.softmax(model(x_u), dim=1)
    exact = exact_meta_gradient(model._classify, params, x_l, y, x_u,
                                predictions)

    grad_l = torch.autograd.grad(F.cross_entropy(model(x_l), y),
                                 list(params.values()))
    flat_grad = torch.cat([g.flatten() for g in grad_l])
    probs = F.softmax(model(x_u), dim=1)
    expected = torch.zeros_like(probs)
    for b in range(probs.size(0)):
        for c in range(probs.size(1)):
            row = torch.autograd.grad(probs[b, c],
                                      list(params.values()),
                                      retain_graph=True)
            expected[b,
                     c] = 2 * torch.cat([r.flatten() for r in row]) @ flat_grad
    torch.testing.assert_close(exact, expected, rtol=1e-4, atol=1e-6)


def test_meta_gradient_sums_to_zero_and_pseudo_labels_stay_distributions():
    model = tiny_model().eval()
    x_l, y, x_u = tiny_batch()
    params = dict(model.named_parameters())
    grad = first_order_meta_gradient(model._classify, params, x_l, y, x_u)
    assert grad.sum(dim=1).abs().max() < 1e-3 * grad.abs().max()
    with torch.no_grad():
        predictions = F.softmax(model(x_u), dim=1)
    for step in (1e-3, 0.1, 100.0):  # up to steps where the ReLU clips
        labels = update_pseudo_labels(predictions, grad, step)
        assert (labels >= 0).all()
        torch.testing.assert_close(labels.sum(1), torch.ones(6))
    assert (update_pseudo_labels(predictions, grad, 100.0) == 0).any()


def test_pseudo_label_update_numbers():
    predictions = torch.tensor([[0.7, 0.2, 0.1]])
    grad = torch.tensor([[1.0, -0.5, -0.5]])
    torch.testing.assert_close(update_pseudo_labels(predictions, grad, 0.3),
                               torch.tensor([[0.4, 0.35, 0.25]]))
    # 0.7 - 1 < 0 is clipped, the rest renormalised: [0, 0.7, 0.6] / 1.3.
    torch.testing.assert_close(update_pseudo_labels(predictions, grad, 1.0),
                               torch.tensor([[0.0, 0.7, 0.6]]) / 1.3)


# ---------------------------------------------------------------- losses


def test_linear_rampup():
    assert [linear_rampup(i, 2.0, 4000)
            for i in (0, 1000, 4000, 9000)] == [0.0, 0.5, 2.0, 2.0]
    assert linear_rampup(0, 1.0, 0) == 1.0


def test_cross_domain_mixup_per_sample():
    g = torch.Generator().manual_seed(0)
    x_l, x_u = torch.rand(3, 1, 2, 2, generator=g), torch.rand(3,
                                                               1,
                                                               2,
                                                               2,
                                                               generator=g)
    one_hot = F.one_hot(torch.tensor([0, 2, 1]), 3).float()
    pseudo = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.1, 0.1, 0.8]])
    lam = torch.tensor([0.0, 0.25, 1.0])
    images, targets = cross_domain_mixup(x_l, one_hot, x_u, pseudo, lam)
    for i, w in enumerate(lam.tolist()):
        torch.testing.assert_close(images[i], w * x_l[i] + (1 - w) * x_u[i])
        torch.testing.assert_close(targets[i],
                                   w * one_hot[i] + (1 - w) * pseudo[i])
    torch.testing.assert_close(targets[1], torch.tensor([0.75, 0.0, 0.25]))
    torch.testing.assert_close(targets.sum(1), torch.ones(3))


def test_consistency_loss_value():
    logits = torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
    targets = torch.tensor([[1.0, 0.0], [0.9, 0.1]])
    # (0.25 + 0.25 + 0 + 0) / 2
    assert consistency_loss(logits, targets).item() == pytest.approx(0.25)


# ----------------------------------------------------------------- model


def test_meta_step_leaves_batch_norm_and_mode_alone():
    model = tiny_model().train()
    x_l, y, x_u = tiny_batch()
    bn = model.backbone.stage1[0].bn
    before = (bn.running_mean.clone(), bn.num_batches_tracked.item())
    model.pseudo_labels(x_l, y, x_u, step_size=0.1)
    assert model.training
    torch.testing.assert_close(bn.running_mean, before[0])
    assert bn.num_batches_tracked.item() == before[1]


def test_no_meta_step_gives_eval_mode_predictions():
    model = tiny_model(meta_step=False).train()
    x_l, y, x_u = tiny_batch()
    labels = model.pseudo_labels(x_l, y, x_u, step_size=0.1)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(labels, F.softmax(model(x_u), dim=1))
    meta = tiny_model().train().pseudo_labels(x_l, y, x_u, step_size=0.1)
    assert (meta - labels).abs().max() > 1e-4


@pytest.mark.parametrize('meta_gradient', ['first_order', 'exact'])
def test_losses_without_mixup_match_an_independent_computation(meta_gradient):
    model = tiny_model(meta_gradient=meta_gradient,
                       mixup=False,
                       rampup_iters=100)
    x_l, y, x_u = tiny_batch()
    torch.manual_seed(5)  # dropout masks of the training forwards
    losses = model.semi_loss(x_l, samples(y), x_u, samples(y), 0.1, 25)

    pseudo = model.pseudo_labels(x_l, y, x_u, 0.1)
    model.eval()  # dropout and BN off: compare with eval-mode forwards
    eval_losses = model.semi_loss(x_l, samples(y), x_u, None, 0.1, 25)
    with torch.no_grad():
        ce = F.cross_entropy(model(x_l), y)
        consistency = (F.softmax(model(x_u), 1) - pseudo).pow(2).sum(1).mean()
    assert eval_losses['loss_cls'].item() == pytest.approx(ce.item(), 1e-5)
    assert eval_losses['loss_consistency'].item() == pytest.approx(
        0.25 * consistency.item(), rel=1e-4)
    assert losses['consistency_weight'].item() == 0.25
    assert 0.0 <= losses['pseudo_label_acc'].item() <= 1.0
    assert 'pseudo_label_acc' not in eval_losses


def test_mixup_draws_one_weight_per_sample(monkeypatch):
    from mmext.classification.semi import meta_gradient_ssl
    seen = {}

    def spy(*args):
        seen['lam'] = args[-1]
        return cross_domain_mixup(*args)

    monkeypatch.setattr(meta_gradient_ssl, 'cross_domain_mixup', spy)
    model = tiny_model(mixup_gamma=1.0)
    x_l, y, x_u = tiny_batch()
    losses = model.semi_loss(x_l, samples(y), x_u, None, 0.1, 0)
    assert seen['lam'].shape == (6, ) and len(set(seen['lam'].tolist())) == 6
    assert ((seen['lam'] > 0) & (seen['lam'] < 1)).all()
    assert losses['loss_mixup'] > 0 and losses['consistency_weight'] == 0


def test_train_step_updates_batch_norm_twice_and_steps():
    model = tiny_model()
    x_l, y, x_u = tiny_batch()
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
    data = labeled_unlabeled_collate([
        dict(inputs=x.mul(50).add(128).clamp(0, 255).to(torch.uint8),
             data_samples=s,
             labeled=True) for x, s in zip(x_l, samples(y))
    ] + [
        dict(inputs=x.mul(50).add(128).clamp(0, 255).to(torch.uint8),
             data_samples=s,
             labeled=False) for x, s in zip(x_u, samples(y))
    ])
    bn = model.backbone.stage1[0].bn
    weight = model.head.fc.weight.clone()
    MessageHub.get_current_instance().update_info('iter', 4000)
    log_vars = model.train_step(data, optim)
    assert bn.num_batches_tracked.item() == 2  # mixed, then unlabeled
    assert not torch.equal(weight, model.head.fc.weight)
    assert float(log_vars['consistency_weight']) == 1.0
    assert float(log_vars['loss']) == pytest.approx(
        float(log_vars['loss_mixup'] + log_vars['loss_consistency']))


def test_model_rejects_bad_batches():
    model = tiny_model()
    optim = build_optim_wrapper(model, dict(optimizer=dict(type='SGD', lr=1)))
    with pytest.raises(UserError, match='labeled_unlabeled_collate'):
        model.train_step(dict(inputs=[], data_samples=[]), optim)
    x_l, y, x_u = tiny_batch(unlabeled=4)
    with pytest.raises(UserError, match='6 labeled and 4 unlabeled'):
        model.semi_loss(x_l, samples(y), x_u)
    with pytest.raises(UserError, match="'first_order' or 'exact'"):
        tiny_model(meta_gradient='second')


# ------------------------------------------------------------------ data


@pytest.fixture(scope='module')
def digits():
    return SklearnDigits(split='train', pipeline=[dict(type='PackInputs')])


def test_split_keeps_n_per_class_disjoint_and_deterministic(digits):
    labels = np.array(
        [digits.get_data_info(i)['gt_label'] for i in range(len(digits))])
    split = SemiSplitDataset(digits, num_labeled_per_class=7, seed=3)
    assert np.bincount(labels[split.labeled_indices]).tolist() == [7] * 10
    assert not set(split.labeled_indices) & set(split.unlabeled_indices)
    assert sorted(split.labeled_indices + split.unlabeled_indices) == list(
        range(len(digits)))
    assert len(split) == len(digits)
    again = SemiSplitDataset(digits, num_labeled_per_class=7, seed=3)
    assert again.labeled_indices == split.labeled_indices
    other = SemiSplitDataset(digits, num_labeled_per_class=7, seed=4)
    assert other.labeled_indices != split.labeled_indices
    # The supervised baseline sees the same labeled images.
    assert FewShotDataset(digits, 7, seed=3).indices == split.labeled_indices
    item = split[0]
    assert item['labeled'] and not split[split.num_labeled]['labeled']
    assert item['data_samples'].gt_label.item() == labels[
        split.labeled_indices[0]]


def test_split_pipelines_are_separate(digits):
    split = SemiSplitDataset(digits,
                             2,
                             labeled_pipeline=[
                                 dict(type='Resize', scale=16),
                                 dict(type='PackInputs')
                             ],
                             unlabeled_pipeline=[dict(type='PackInputs')])
    assert split[0]['inputs'].shape == (3, 16, 16)
    assert split[len(split) - 1]['inputs'].shape == (3, 8, 8)


def test_split_bad_input_is_one_clear_error(digits):
    with pytest.raises(SemiSupervisedError,
                       match='num_labeled_per_class=500.*fewer') as error:
        SemiSplitDataset(digits, num_labeled_per_class=500)
    assert isinstance(error.value, UserError)
    tiny = FewShotDataset(digits, shots=2)
    with pytest.raises(UserError, match='no unlabeled images left'):
        SemiSplitDataset(tiny, num_labeled_per_class=2)


def test_sampler_blocks_and_collate(digits):
    split = SemiSplitDataset(digits, num_labeled_per_class=3)
    sampler = LabeledUnlabeledSampler(split, 4, 6, seed=0)
    indices = list(itertools.islice(iter(sampler), 10 * 50))
    blocks = np.array(indices).reshape(50, 10)
    assert (blocks[:, :4] < split.num_labeled).all()
    assert (blocks[:, 4:] >= split.num_labeled).all()
    # Every labeled image once per 30 draws (one permutation after another).
    assert sorted(blocks[:, :4].flatten()[:30]) == list(range(30))
    assert list(itertools.islice(iter(sampler), 10)) == indices[:10]
    # Two ranks share the two streams between them.
    firsts = []
    for rank in (0, 1):
        ranked = LabeledUnlabeledSampler(split, 4, 6, seed=0)
        ranked.rank, ranked.world_size = rank, 2
        firsts.append(list(itertools.islice(iter(ranked), 10)))
    assert firsts[0][:4] == blocks[:2, :4].flatten()[0::2].tolist()
    assert firsts[1][:4] == blocks[:2, :4].flatten()[1::2].tolist()
    assert firsts[0][4:] == blocks[:2, 4:].flatten()[0::2][:6].tolist()
    batch = labeled_unlabeled_collate([split[i] for i in indices[:10]])
    assert len(batch['labeled']['inputs']) == 4
    assert len(batch['unlabeled']['data_samples']) == 6
    with pytest.raises(UserError, match='batch_size'):
        labeled_unlabeled_collate([split[i] for i in indices[4:14]])


# ------------------------------------------------------ backbones, SVHN


def test_wide_resnet_28_2():
    model = WideResNet(depth=28, widen_factor=2)
    # 1.47 M parameters, as the WRN-28-2 of MixMatch / FixMatch (1.5 M).
    assert sum(p.numel() for p in model.parameters()) == 1466320
    assert model(torch.randn(1, 3, 32, 32))[0].shape == (1, 128, 8, 8)
    with pytest.raises(ValueError, match='6n \\+ 4'):
        WideResNet(depth=27)


def test_svhn_reads_the_official_mat_format(tmp_path):
    from scipy.io import savemat
    images = np.random.default_rng(0).integers(0,
                                               255, (32, 32, 3, 4),
                                               dtype=np.uint8)
    savemat(tmp_path / 'test_32x32.mat',
            dict(X=images, y=np.array([[10], [1], [9], [10]], np.uint8)))
    dataset = SVHN(str(tmp_path), split='test')
    assert [dataset.get_data_info(i)['gt_label']
            for i in range(4)] == [0, 1, 9, 0]
    np.testing.assert_array_equal(
        dataset.get_data_info(2)['img'], images[..., 2])
    with pytest.raises(FileNotFoundError, match='train_32x32.mat'):
        SVHN(str(tmp_path), split='train')


# --------------------------------------------------------------- configs


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_model_trains_one_step_on_tiny_tensors(path):
    cfg = Config.fromfile(path)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    size = 32 if 'resnet18' in path else 16
    g = torch.Generator().manual_seed(0)
    num_classes = cfg.model.head.num_classes

    def items(labeled, n=2):
        return [
            dict(inputs=torch.randint(0,
                                      255, (3, size, size),
                                      generator=g,
                                      dtype=torch.uint8),
                 data_samples=DataSample().set_gt_label(c % num_classes),
                 labeled=labeled) for c in range(n)
        ]

    if cfg.model.type == 'MetaGradientSSL':
        data = labeled_unlabeled_collate(items(True) + items(False))
    else:
        data = labeled_unlabeled_collate(items(True) + items(False))['labeled']
    log_vars = model.train_step(data, optim)
    assert np.isfinite(float(log_vars['loss']))


def test_train_tool_reports_too_many_labels_in_one_line(tmp_path):
    from tests.conftest import run_tool
    result = run_tool(sys.executable, 'tools/train.py', DIGITS_SSL,
                      '--work-dir', tmp_path, '--cfg-options',
                      'train_dataloader.dataset.num_labeled_per_class=500')
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert 'Traceback' not in result.stderr
    assert lines[-1].startswith('error: ') and 'num_labeled_per_class=500' \
        in lines[-1] and 'fewer than 500 images' in lines[-1]


def test_digits_recipe_runs_under_the_runner_and_writes_the_split(tmp_path):
    cfg = Config.fromfile(DIGITS_SSL)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.max_iters = 2
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    split = json.load(open(tmp_path / 'labeled_split.json'))
    dataset = runner.train_dataloader.dataset
    assert split == json.loads(json.dumps(dataset.split()))
    assert len(split['labeled']) == 100 and split['seed'] == 0
