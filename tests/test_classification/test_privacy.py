"""Adversarial privacy-preserving representations: the alternating step, the
sign and size of the adversarial term, the post-hoc attacker, the image
metrics against scikit-image, and the errors for bad input. Tiny sizes (a
width-8 ResNet-18 cut after stage 0, 16 px images, batches of 4)."""
import copy

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import init_default_scope
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import mmext  # noqa: F401
from mmext.checkpoint import CheckpointError
from mmext.classification.privacy import (AdversarialPrivacyClassifier,
                                          MeanImage, PerceptualDistance,
                                          build_cut_backbone, psnr,
                                          score_reconstructions, ssim,
                                          train_attacker)
from mmext.errors import BadValueError

from ..conftest import run_tool

BACKBONE = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8)
DECODER = dict(type='ConvDecoder', in_channels=8, channels=(8, 8))


@pytest.fixture(autouse=True, scope='module')
def _mmpretrain_scope():
    init_default_scope('mmpretrain')


def make_model(privacy_weight=1.0, **kwargs):
    torch.manual_seed(0)
    cfg = dict(backbone=BACKBONE,
               cut_stage=0,
               neck=dict(type='GlobalAveragePooling'),
               head=dict(type='LinearClsHead', num_classes=3, in_channels=8),
               adversary=DECODER,
               privacy_weight=privacy_weight,
               data_preprocessor=dict(num_classes=3,
                                      mean=[127.5] * 3,
                                      std=[127.5] * 3))
    cfg.update(kwargs)
    return AdversarialPrivacyClassifier(**cfg)


def make_batch(seed=0, n=4, size=16):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=generator)
    samples = [DataSample().set_gt_label(i % 3) for i in range(n)]
    return dict(inputs=list(images.to(torch.uint8)), data_samples=samples)


def sgd_wrappers(model, lr=0.1):
    encoder = [
        p for name, p in model.named_parameters()
        if name.startswith(('backbone.', 'neck.', 'head.'))
    ]
    return OptimWrapperDict(encoder=OptimWrapper(
        torch.optim.SGD(encoder, lr=lr)),
                            adversary=OptimWrapper(
                                torch.optim.SGD(model.adversary.parameters(),
                                                lr=lr)))


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    after = module.state_dict()
    return {k for k in before if not torch.equal(before[k], after[k])}


def encoder_inputs(model, batch):
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    return data['inputs'], data['data_samples']


# The alternating step


def test_each_phase_updates_only_its_player():
    model = make_model()
    wrappers = sgd_wrappers(model)
    images, samples = encoder_inputs(model, make_batch())
    parts = dict(encoder=model.backbone,
                 head=model.head,
                 adversary=model.adversary)

    features = model.backbone(images)
    before = {name: snapshot(m) for name, m in parts.items()}
    model.adversary_phase(features[-1].detach(), images, wrappers['adversary'])
    assert changed(before['adversary'], model.adversary)
    assert all(p.grad is None for p in model.backbone.parameters())
    # The phase gets the detached representation: no encoder weight or
    # statistic moves, and the task head is untouched.
    assert not changed(before['encoder'], model.backbone)
    assert not changed(before['head'], model.head)

    before = {name: snapshot(m) for name, m in parts.items()}
    model.encoder_phase(model.backbone(images), images, samples,
                        wrappers['encoder'])
    conv = 'conv1.weight'
    assert conv in changed(before['encoder'], model.backbone)
    assert 'fc.weight' in changed(before['head'], model.head)
    assert not changed(before['adversary'], model.adversary)
    # The frozen adversary collected no gradient that its next step would
    # add to its own.
    assert all(p.grad is None or not p.grad.any()
               for p in model.adversary.parameters())
    assert all(p.requires_grad for p in model.adversary.parameters())


def test_train_step_uses_the_two_wrappers_and_logs_both_losses():
    model = make_model()
    before = snapshot(model)
    log_vars = model.train_step(make_batch(), sgd_wrappers(model))
    assert {'loss', 'loss_adversary', 'loss_privacy',
            'reconstruction_error'} <= set(log_vars)
    moved = changed(before, model)
    assert any(k.startswith('backbone.') for k in moved)
    assert any(k.startswith('adversary.') for k in moved)
    assert float(log_vars['loss_privacy'].detach()) == pytest.approx(
        -1.0 * float(log_vars['reconstruction_error']), rel=1e-6)


def test_lambda_zero_updates_the_encoder_as_the_plain_classifier():
    model = make_model(privacy_weight=0.0)
    plain = ImageClassifier(backbone=build_cut_backbone(BACKBONE, 0),
                            neck=dict(type='GlobalAveragePooling'),
                            head=dict(type='LinearClsHead',
                                      num_classes=3,
                                      in_channels=8),
                            data_preprocessor=dict(num_classes=3,
                                                   mean=[127.5] * 3,
                                                   std=[127.5] * 3))
    plain.load_state_dict({
        k: v
        for k, v in model.state_dict().items() if not k.startswith('adversary')
    })
    batch = make_batch(seed=1)
    initial = snapshot(plain)
    plain.train_step(copy.deepcopy(batch),
                     OptimWrapper(torch.optim.SGD(plain.parameters(), lr=0.5)))
    model.train_step(copy.deepcopy(batch), sgd_wrappers(model, lr=0.5))
    for name, value in plain.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name],
                                   value,
                                   rtol=1e-5,
                                   atol=1e-6)
    assert {'backbone.conv1.weight',
            'head.fc.weight'} <= changed(initial, plain)


def test_encoder_update_is_task_gradient_minus_lambda_adversary_gradient():
    """One SGD step of the encoder phase moves the weights by
    ``-lr * (grad task - lambda * grad reconstruction error)``, each gradient
    computed here on its own."""
    lam, lr = 0.7, 0.05
    model = make_model(privacy_weight=lam)
    images, samples = encoder_inputs(model, make_batch(seed=2))
    params = dict(model.backbone.named_parameters())

    reference = copy.deepcopy(model)
    features = reference.backbone(images)
    task = sum(reference.head.loss(reference.neck(features), samples).values())
    error = torch.nn.functional.mse_loss(
        reference.adversary(features[-1], images.shape[-2:]), images)
    names = list(params)
    ref_params = [
        dict(reference.backbone.named_parameters())[n] for n in names
    ]
    task_grads = torch.autograd.grad(task, ref_params, retain_graph=True)
    error_grads = torch.autograd.grad(error, ref_params)

    before = {n: p.detach().clone() for n, p in params.items()}
    model.encoder_phase(model.backbone(images), images, samples,
                        sgd_wrappers(model, lr)['encoder'])
    for name, g_task, g_error in zip(names, task_grads, error_grads):
        expected = before[name] - lr * (g_task - lam * g_error)
        torch.testing.assert_close(params[name].detach(),
                                   expected,
                                   rtol=1e-4,
                                   atol=1e-6)
    assert any(g.abs().sum() > 0 for g in error_grads)


def test_encoder_update_increases_the_frozen_adversarys_error():
    model = make_model(privacy_weight=50.0)
    images, samples = encoder_inputs(model, make_batch(seed=3))

    def adversary_error():
        with torch.no_grad():
            z = model.represent(images)
            return float(
                model.adversary_loss(model.adversary(z, images.shape[-2:]),
                                     images))

    wrapper = sgd_wrappers(model, lr=0.01)['encoder']
    adversary = [p.detach().clone() for p in model.adversary.parameters()]
    errors = [adversary_error()]
    for _ in range(3):
        model.encoder_phase(model.backbone(images), images, samples, wrapper)
        errors.append(adversary_error())
    assert errors[-1] > errors[0] * 1.01
    assert all(
        torch.equal(a, p)
        for a, p in zip(adversary, model.adversary.parameters()))


# The post-hoc attacker


class _Loader(list):
    """A list of batches standing in for a DataLoader."""


def test_post_hoc_attacker_never_uses_the_training_adversary():
    model = make_model()
    with torch.no_grad():
        for param in model.adversary.parameters():
            param.fill_(float('nan'))
    encoder = snapshot(model.backbone)
    loader = _Loader([make_batch(seed=s) for s in range(3)])

    attacker = train_attacker(model, DECODER, loader, iters=4, seed=5)
    scores = score_reconstructions(model, attacker, loader)
    assert np.isfinite(scores['psnr']) and np.isfinite(scores['ssim'])
    # The encoder is frozen: weights and normalisation statistics unchanged.
    assert not changed(encoder, model.backbone)
    # The attacker starts from its own seeded initialisation ...
    torch.manual_seed(5)
    fresh = MODELS.build(DECODER)
    untrained = train_attacker(model, DECODER, loader, iters=0, seed=5)
    for a, b in zip(fresh.parameters(), untrained.parameters()):
        torch.testing.assert_close(a, b)
    # ... and training it lowers its error on the public images.
    trained = score_reconstructions(
        model, train_attacker(model,
                              DECODER,
                              loader,
                              iters=30,
                              seed=5,
                              lr=3e-3), loader)
    assert trained['psnr'] > score_reconstructions(model, untrained,
                                                   loader)['psnr']


def test_reconstruction_scores_undo_the_normalisation():
    """Scores are computed on [0, 1] pixels: an attacker returning the image
    itself scores infinite PSNR / SSIM 1, one returning black matches
    scikit-image on the raw images."""
    model = make_model()
    batch = make_batch(seed=4)
    raw = torch.stack(batch['inputs']).double() / 255

    class Black(torch.nn.Module):

        def forward(self, z, size):
            return -torch.ones(len(z), 3, *size)  # 0 after un-normalising

    scores = score_reconstructions(model, Black(), _Loader([batch]))
    expected = np.mean([
        peak_signal_noise_ratio(img.numpy(),
                                np.zeros_like(img.numpy()),
                                data_range=1) for img in raw
    ])
    assert scores['psnr'] == pytest.approx(expected, rel=1e-6)


# PSNR and SSIM against scikit-image


def test_psnr_and_ssim_match_scikit_image():
    rng = np.random.default_rng(0)
    target = rng.random((3, 3, 20, 24))
    noisy = np.clip(
        target +
        rng.normal(0, [[[[0.05]]], [[[0.2]]], [[[0.4]]]], target.shape), 0, 1)
    ours_psnr = psnr(torch.from_numpy(noisy), torch.from_numpy(target))
    ours_ssim = ssim(torch.from_numpy(noisy), torch.from_numpy(target))
    for k in range(3):
        assert float(ours_psnr[k]) == pytest.approx(peak_signal_noise_ratio(
            target[k], noisy[k], data_range=1),
                                                    rel=1e-9)
        assert float(ours_ssim[k]) == pytest.approx(structural_similarity(
            target[k],
            noisy[k],
            data_range=1,
            channel_axis=0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False),
                                                    rel=1e-7)
    assert float(ours_ssim[0]) > float(ours_ssim[2])


# The encoder cut and the perceptual loss


def test_cut_backbone_returns_the_stage_and_drops_the_rest():
    encoder = build_cut_backbone(BACKBONE, 1)
    out = encoder(torch.zeros(1, 3, 32, 32))
    assert len(out) == 1 and out[0].shape == (1, 16, 4, 4)
    assert encoder.res_layers == ['layer1', 'layer2']
    assert not hasattr(encoder, 'layer3')


@pytest.mark.parametrize('backbone, stage', [
    (BACKBONE, 4),
    (dict(BACKBONE, num_stages=2), 2),
    (BACKBONE, -1),
])
def test_cut_beyond_the_backbone_is_one_clear_error(backbone, stage):
    with pytest.raises(BadValueError, match=f'cut_stage.*{stage}'):
        build_cut_backbone(backbone, stage)


def test_perceptual_distance_loads_local_weights_and_errs_clearly(tmp_path):
    backbone = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        PerceptualDistance(backbone, str(tmp_path / 'missing.pth'))

    torch.manual_seed(1)
    classifier = ImageClassifier(backbone=backbone)
    path = tmp_path / 'features.pth'
    torch.save(dict(state_dict=classifier.state_dict()), path)
    distance = PerceptualDistance(backbone,
                                  str(path),
                                  layers=(0, 1),
                                  layer_weights=(1.0, 0.5))
    x, y = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    classifier.backbone.eval()
    classifier.backbone.out_indices = (0, 1)
    fx, fy = classifier.backbone(x), classifier.backbone(y)
    expected = (torch.nn.functional.mse_loss(fx[0], fy[0]) +
                0.5 * torch.nn.functional.mse_loss(fx[1], fy[1]))
    torch.testing.assert_close(distance(x, y), expected)
    # Fixed: no gradient to its weights, BN stays in eval under train().
    distance.train()
    assert not distance.network.training
    x.requires_grad_(True)
    distance(x, y).backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is None for p in distance.network.parameters())

    with pytest.raises(CheckpointError, match="prefix 'head.'"):
        PerceptualDistance(backbone, str(path), prefix='head.')


def test_attacker_tool_reports_a_bad_cut_in_one_line(tmp_path, python):
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'not read: the model fails to build first')
    result = run_tool(
        python, 'tools/privacy/evaluate_attacker.py',
        'configs/privacy_adversarial/'
        'privacy-adv-pixel_resnet18-w16-cut0_1xb32-300it_'
        'digits-16px.py', checkpoint, '--work-dir', tmp_path, '--cfg-options',
        'model.cut_stage=7')
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and 'cut_stage=7' in lines[0], result.stderr


def test_configs_build_and_name_missing_perceptual_weights():
    import glob

    from mmengine.config import Config
    paths = sorted(glob.glob('configs/privacy_adversarial/*.py'))
    assert len(paths) == 4
    for path in paths:
        cfg = Config.fromfile(path)
        if 'perceptual' in path:
            with pytest.raises(FileNotFoundError,
                               match='resnet18_8xb32_in1k.pth'):
                MODELS.build(cfg.model)
            continue
        model = MODELS.build(cfg.model)
        size = cfg.img_size
        z = model.represent(torch.zeros(2, 3, size, size))
        assert z.shape[1] == cfg.representation_channels
        assert model.adversary(z, (size, size)).shape == (2, 3, size, size)


def test_blind_attacker_answers_the_mean_public_image():
    model = make_model()
    loader = _Loader([make_batch(seed=s, n=3) for s in range(2)])
    images = torch.cat(
        [model.data_preprocessor(batch, False)['inputs'] for batch in loader])
    blind = MeanImage(model, loader)
    out = blind(torch.zeros(5, 8, 4, 4), (16, 16))
    assert out.shape == (5, 3, 16, 16)
    torch.testing.assert_close(out[4], images.mean(0))
