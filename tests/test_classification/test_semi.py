"""Semi-supervised learning with meta-gradient (issue 13): meta-gradients,
pseudo labels, losses, the labeled/unlabeled split, sampler and collate,
the backbones, SVHN, and every config's model on tiny tensors."""
import glob
import itertools
import json
import os.path as osp
import re
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
    SVHN, LabeledUnlabeledSampler, MetaGradientSSLDDP, SemiSplitDataset,
    SemiSupervisedError,
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


def test_exact_meta_gradient_through_a_real_unrolled_step():
    """Away from y~ = predictions the unrolled step moves theta, and the
    exact meta-gradient must differentiate through it: compared with central
    differences in y~ of L(theta - grad Phi(theta, y~)), float64, a linear
    softmax classifier, a non-trivial labeled loss."""
    g = torch.Generator().manual_seed(0)
    params = {
        'weight': torch.randn(12, 4, generator=g, dtype=torch.float64),
        'bias': torch.randn(4, generator=g, dtype=torch.float64)
    }

    def classify(p, x):
        return x.flatten(1) @ p['weight'] + p['bias']

    x_l = torch.randn(5, 3, 2, 2, generator=g, dtype=torch.float64)
    x_u = torch.randn(3, 3, 2, 2, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 3, 1])
    pseudo = torch.softmax(torch.randn(3, 4, generator=g, dtype=torch.float64),
                           dim=1)
    exact = exact_meta_gradient(classify, params, x_l, labels, x_u, pseudo)

    def loss_after_step(targets):
        theta = {k: v.clone().requires_grad_() for k, v in params.items()}
        phi = (torch.softmax(classify(theta, x_u), 1) - targets).pow(2).sum()
        grads = torch.autograd.grad(phi, list(theta.values()))
        stepped = {
            k: v.detach() - d
            for (k, v), d in zip(theta.items(), grads)
        }
        return F.cross_entropy(classify(stepped, x_l), labels).item()

    numeric = torch.zeros_like(pseudo)
    for b, c in itertools.product(range(3), range(4)):
        delta = torch.zeros_like(pseudo)
        delta[b, c] = 1e-6
        numeric[b, c] = (loss_after_step(pseudo + delta) -
                         loss_after_step(pseudo - delta)) / 2e-6
    torch.testing.assert_close(exact, numeric, rtol=1e-5, atol=1e-8)
    # Not the shortcut 2 J grad L of the predictions' point.
    at_theta = {k: v.clone().requires_grad_() for k, v in params.items()}
    probs = torch.softmax(classify(at_theta, x_u), 1)
    assert (probs.detach() - pseudo).abs().max() > 0.1


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


def tiny_collated_batch():
    """``tiny_batch`` as uint8 images through ``labeled_unlabeled_collate``.
    """
    x_l, y, x_u = tiny_batch()

    def items(images, labeled):
        return [
            dict(inputs=x.mul(50).add(128).clamp(0, 255).to(torch.uint8),
                 data_samples=s,
                 labeled=labeled) for x, s in zip(images, samples(y))
        ]

    return labeled_unlabeled_collate(items(x_l, True) + items(x_u, False))


def test_train_step_updates_batch_norm_twice_and_steps():
    model = tiny_model()
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
    data = tiny_collated_batch()
    bn = model.backbone.stage1[0].bn
    weight = model.head.fc.weight.clone()
    MessageHub.get_current_instance().update_info('iter', 1000)
    log_vars = model.train_step(data, optim)
    assert bn.num_batches_tracked.item() == 2  # mixed, then unlabeled
    assert not torch.equal(weight, model.head.fc.weight)
    assert float(log_vars['consistency_weight']) == 0.25  # 1000 / 4000
    assert float(log_vars['loss']) == pytest.approx(
        float(log_vars['loss_mixup'] + log_vars['loss_consistency']))


def test_pseudo_label_step_size_is_the_optimizer_lr(monkeypatch):
    """beta_t is the learning rate of this step (the reference's
    ``sub_(grad, alpha=lr)``), read from the optimizer, not a constant."""
    from mmext.classification.semi import meta_gradient_ssl
    seen = []

    def spy(predictions, grad, step_size):
        seen.append(step_size)
        return update_pseudo_labels(predictions, grad, step_size)

    monkeypatch.setattr(meta_gradient_ssl, 'update_pseudo_labels', spy)
    model = tiny_model()
    optim = build_optim_wrapper(model,
                                dict(optimizer=dict(type='SGD', lr=0.37)))
    optim.param_groups[0]['lr'] = 0.0123  # as a scheduler would set it
    model.train_step(tiny_collated_batch(), optim)
    assert seen == [0.0123]


def test_mixup_loss_is_kl_from_the_mixed_target_to_the_prediction(
        monkeypatch):
    """loss_mixup = KL(lam y + (1 - lam) y^ || softmax(f(x_mixed))), batch
    mean, with the meta-updated pseudo labels y^ (not the plain
    predictions) and lam fixed per sample; checked in eval mode against an
    explicit sum. The reverse KL, the predictions as targets or one lam for
    the batch give other numbers (asserted)."""
    from mmext.classification.semi import meta_gradient_ssl
    lam = torch.tensor([0.1, 0.35, 0.5, 0.62, 0.8, 0.97])

    class FixedBeta:

        def __init__(self, *args):
            pass

        def sample(self, shape):
            assert tuple(shape) == (6, )
            return lam.clone()

    monkeypatch.setattr(meta_gradient_ssl, 'Beta', FixedBeta)
    model = tiny_model(rampup_iters=100).eval()
    x_l, y, x_u = tiny_batch()
    step = 0.5
    losses = model.semi_loss(x_l, samples(y), x_u, None, step, 50)

    pseudo = model.pseudo_labels(x_l, y, x_u, step)
    with torch.no_grad():
        plain = F.softmax(model(x_u), dim=1)

        def kl_to_prediction(lams, labels):
            w = lams.view(-1, 1, 1, 1)
            probs = F.softmax(model(w * x_l + (1 - w) * x_u), dim=1)
            target = (lams[:, None] * F.one_hot(y, NUM_CLASSES) +
                      (1 - lams[:, None]) * labels)
            kl = (target * (target.clamp_min(1e-12).log() - probs.log()))
            reverse = (probs * (probs.log() - target.clamp_min(1e-12).log()))
            return kl.sum() / 6, reverse.sum() / 6

        expected, reverse = kl_to_prediction(lam, pseudo)
        with_predictions, _ = kl_to_prediction(lam, plain)
        one_lam, _ = kl_to_prediction(lam.mean().expand(6), pseudo)
        consistency = (F.softmax(model(x_u), 1) - pseudo).pow(2).sum(1).mean()
    assert losses['loss_mixup'].item() == pytest.approx(expected.item(),
                                                        rel=1e-5)
    for wrong in (reverse, with_predictions, one_lam):
        assert abs(wrong.item() - expected.item()) > 1e-3 * expected.item()
    assert losses['loss_consistency'].item() == pytest.approx(
        0.5 * consistency.item(), rel=1e-5)


def test_ddp_wrapper_runs_the_algorithm_as_the_plain_step(tmp_path):
    """Under ``--launcher``, MMDistributedDataParallel.train_step would call
    forward(mode='loss') on the labeled/unlabeled batch; the configs'
    ``model_wrapper_cfg`` (MetaGradientSSLDDP) runs the algorithm with its
    training forwards through DDP. One gloo process: the step equals the
    unwrapped one (same seed), parameter for parameter."""
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    from mmengine.registry import MODEL_WRAPPERS
    cfg = Config.fromfile(DIGITS_SSL)
    data = tiny_collated_batch()
    MessageHub.get_current_instance().update_info('iter', 1000)
    dist.init_process_group('gloo',
                            init_method=f'file://{tmp_path}/rendezvous',
                            rank=0,
                            world_size=1)
    try:
        models, log_vars = [], []
        for wrapped in (False, True):
            model = tiny_model()
            optim = build_optim_wrapper(
                model, dict(optimizer=dict(type='SGD', lr=0.1)))
            if wrapped:  # looked up as Runner.wrap_model does
                wrapper_cfg = dict(cfg.model_wrapper_cfg)
                model = MODEL_WRAPPERS.get(wrapper_cfg.pop('type'))(
                    module=model, device_ids=None, **wrapper_cfg)
            torch.manual_seed(7)  # mix-up weights and dropout masks
            log_vars.append(model.train_step(data, optim))
            models.append(model)
        with pytest.raises(Exception):
            MMDistributedDataParallel(module=tiny_model(),
                                      device_ids=None).train_step(
                                          data, optim)
    finally:
        dist.destroy_process_group()
    assert type(models[1]).__name__ == 'MetaGradientSSLDDP'
    assert float(log_vars[1]['loss_mixup']) == pytest.approx(
        float(log_vars[0]['loss_mixup']), rel=1e-6)
    plain = dict(models[0].named_parameters())
    for name, param in models[1].module.named_parameters():
        torch.testing.assert_close(param, plain[name], rtol=1e-5, atol=1e-7)
    assert not torch.equal(plain['head.fc.weight'],
                           tiny_model().head.fc.weight)
    with pytest.raises(UserError, match='wraps a MetaGradientSSL'):
        MetaGradientSSLDDP(module=torch.nn.Linear(1, 1))


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


def test_convlarge_config_keeps_the_reference_initialisation():
    """The reference's ConvLarge and classifier use PyTorch's default
    initialisation (uniform, bound 1 / sqrt(fan_in)) - not ConvModule's
    Kaiming normal or mmpretrain's N(0, 0.01) head - also after the
    Runner's ``init_weights``."""
    cfg = Config.fromfile([
        c for c in CONFIGS if 'metassl_convlarge_' in c and 'cifar10-' in c
    ][0])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for layer in (model.backbone.stage1[0].conv, model.backbone.stage3[2].conv,
                  model.head.fc):
        weight = layer.weight
        bound = 1 / np.sqrt(weight[0].numel())
        assert weight.abs().max() <= bound
        assert weight.std().item() == pytest.approx(bound / np.sqrt(3),
                                                    rel=0.05)


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


# The reference's settings (train_meta.py arguments and README commands,
# dataloader.py statistics and transforms, train_meta_imagenet.py).
REFERENCE = {
    'cifar10-4000labels':
    dict(per_class=400, gamma=1.0, wd=1e-4, flip=True,
         std=[62.99, 62.09, 66.70]),
    'cifar100-10000labels':
    dict(per_class=100, gamma=1.0, wd=1e-4, flip=True,
         std=[68.17, 65.39, 70.42]),
    'svhn-1000labels':
    dict(per_class=100, gamma=0.1, wd=5e-5, flip=False,
         std=[50.50, 51.26, 50.24]),
}


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_batch_sizes_and_wrapper(path):
    """``--auto-scale-lr`` scales by the dataloader's batch (labeled +
    unlabeled) x GPUs of the name, and distributed runs of the SSL configs
    get the wrapper that runs the algorithm."""
    cfg = Config.fromfile(path)
    gpus = int(re.search(r'_(\d+)xb', osp.basename(path)).group(1))
    assert cfg.auto_scale_lr.base_batch_size == (
        cfg.train_dataloader.batch_size * gpus)
    wrapper = cfg.get('model_wrapper_cfg')
    if cfg.model.type == 'MetaGradientSSL':
        assert wrapper.type == 'mmpretrain.MetaGradientSSLDDP'
        labeled = cfg.train_dataloader.sampler.labeled_batch_size
        assert cfg.train_dataloader.batch_size == 2 * labeled
    else:
        assert wrapper is None


@pytest.mark.parametrize('data', sorted(REFERENCE))
def test_convlarge_configs_follow_the_reference(data):
    cfg = Config.fromfile(
        [c for c in CONFIGS if 'metassl_convlarge_' in c and data in c][0])
    facts = REFERENCE[data]
    assert cfg.model.mixup and cfg.model.mixup_gamma == facts['gamma']
    assert cfg.model.meta_gradient == 'first_order'
    assert (cfg.model.rampup_iters, cfg.model.consistency_weight) == (4000, 1)
    assert cfg.model.backbone.get('dropout', 0.5) == 0.5
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 0.1, 0.9, facts['wd'])
    assert not optimizer.get('nesterov')
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.end, steps.milestones,
            steps.gamma) == ('LinearLR', 4000, [300000, 350000], 0.1)
    assert cfg.train_cfg.max_iters == 400000
    assert cfg.train_dataloader.batch_size == 256
    assert cfg.train_dataloader.dataset.num_labeled_per_class == facts[
        'per_class']
    pipeline = cfg.train_dataloader.dataset.dataset.pipeline
    assert any(t.type == 'RandomFlip' for t in pipeline) == facts['flip']
    assert dict(type='RandomCrop', crop_size=32, padding=4) in pipeline
    assert cfg.data_preprocessor.std == pytest.approx(facts['std'], abs=0.01)


def test_imagenet_config_follows_the_reference():
    cfg = Config.fromfile(
        [c for c in CONFIGS if 'metassl_resnet18' in c][0])
    crop = cfg.train_dataloader.dataset.dataset.pipeline[1]
    assert (crop.crop_ratio_range, crop.aspect_ratio_range) == ((0.1, 1.0),
                                                                (0.8, 1.25))
    # 600 epochs of ceil(int(unlabeled / 8) / 64) iterations, 5 of warm-up,
    # then cosine to 0; consistency weight 1 from the start.
    epoch = -(-(1281167 - 128000) // 8 // 64)
    assert cfg.train_cfg.max_iters == 600 * epoch
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end,
            cosine.eta_min) == (5 * epoch, 5 * epoch, 600 * epoch, 0.0)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 0.1, 0.9, 1e-4)
    assert (cfg.model.rampup_iters, cfg.model.mixup_gamma) == (0, 1.0)
    assert cfg.sync_bn == 'torch'


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
