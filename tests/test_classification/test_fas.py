"""Adaptive ViT for few-shot cross-domain face anti-spoofing (issue 12):
adapters and FWT inside mmpretrain's ViT, the normalised head, the cosine
loss, stage-wise freezing, FAS data, the balanced sampler and the metrics.

Everything runs on tiny ViTs (a few tokens); nothing is downloaded.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score, roc_curve

import mmext  # noqa: F401  (compatibility layer first)
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmext.classification.fas import (AdaptiveVisionTransformer,
                                      DomainBalancedSampler, EnsembleAdapter,
                                      FASDataError, FASFrameDataset, FASMetric,
                                      FeatureWiseTransform, NormLinearClsHead,
                                      fas_metrics)
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', 'adaptive_vit_fas')
ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
ADAPTIVE_CFG = osp.join(
    CONFIGS, 'adaptive-vit-tiny-p8_1xb24-60it_procedural-fas-48px-5shot.py')


@pytest.fixture(autouse=True)
def _mmpretrain_scope():
    init_default_scope('mmpretrain')


def tiny_vits(**adaptive_kwargs):
    """A plain ViT and an adaptive one holding the plain one's weights."""
    torch.manual_seed(0)
    plain = VisionTransformer(arch=ARCH, img_size=16, patch_size=8)
    adaptive = AdaptiveVisionTransformer(arch=ARCH,
                                         img_size=16,
                                         patch_size=8,
                                         adapter_cfg=dict(hidden_dims=8),
                                         **adaptive_kwargs)
    result = adaptive.load_state_dict(plain.state_dict(), strict=False)
    plain.eval()  # mmpretrain's train() returns None: no chaining
    adaptive.eval()
    return plain, adaptive, result


def test_plain_vit_weights_load_with_only_new_parameters_missing():
    plain, adaptive, result = tiny_vits()
    assert result.unexpected_keys == []
    new = {k for k in adaptive.state_dict() if k not in plain.state_dict()}
    assert set(result.missing_keys) == new
    # 2 layers x 2 insertion points x 2 adapters x 4 tensors + 2 x FWT(2).
    assert len(new) == 2 * 2 * 2 * 4 + 2 * 2
    assert all(('adapter' in k) or ('.fwt.' in k) for k in new)
    x = torch.randn(3, 3, 16, 16)
    torch.testing.assert_close(adaptive(x)[0], plain(x)[0], atol=1e-6, rtol=0)


def test_adapters_sit_after_attention_and_mlp_before_the_residual():
    """With non-trivial adapter weights, the adaptive ViT equals a direct
    computation from the plain ViT's parts and the adapters' weights."""
    plain, adaptive, _ = tiny_vits()
    for name, param in adaptive.named_parameters():
        if 'adapter' in name:
            param.data.normal_(0, 0.2)

    def ensemble(module, x):
        outs = [
            x + F.linear(F.gelu(F.linear(x, a.down.weight, a.down.bias)),
                         a.up.weight, a.up.bias) for a in module.adapters
        ]
        return sum(outs) / len(outs)

    x = torch.randn(2, 3, 16, 16)
    tokens, _ = plain.patch_embed(x)
    tokens = torch.cat([plain.cls_token.expand(2, -1, -1), tokens], 1)
    tokens = tokens + plain.pos_embed
    for layer, new in zip(plain.layers, adaptive.layers):
        tokens = tokens + ensemble(new.attn_adapter,
                                   layer.attn(layer.ln1(tokens)))
        tokens = tokens + ensemble(new.ffn_adapter,
                                   layer.ffn.layers(layer.ln2(tokens)))
    expected = plain.ln1(tokens)[:, 0]
    torch.testing.assert_close(adaptive(x)[0], expected, atol=1e-5, rtol=1e-5)
    assert (adaptive(x)[0] - plain(x)[0]).abs().max() > 1e-2


class _DroppedPath(torch.nn.Module):
    """Stochastic depth that drops the whole branch (every sample)."""

    def forward(self, x):
        return torch.zeros_like(x)


@pytest.mark.parametrize('where', ['drop path', 'layer scale'])
def test_adapters_sit_before_drop_path_and_layer_scale(where):
    """As in the public code (vision_transformer.py:351-358, 361-368: adapter,
    then drop path, then the residual add), a branch that stochastic depth
    drops, or whose layer scale is zero, loses its adapters too; an adapter
    after them would add ``adapter(0) != 0``."""
    _, adaptive, _ = tiny_vits(layer_scale_init_value=0.5)
    for name, param in adaptive.named_parameters():
        if 'adapter' in name:
            param.data.normal_(0, 0.2)
    layer = adaptive.layers[0]
    if where == 'drop path':
        layer.attn.out_drop = _DroppedPath()
        layer.ffn.dropout_layer = _DroppedPath()
    else:
        layer.attn.gamma1.weight.data.zero_()
        layer.ffn.gamma2.weight.data.zero_()
    x = torch.randn(2, 5, 32)
    torch.testing.assert_close(layer(x), x)


def test_ensemble_sum_is_the_public_codes_combination():
    """``reduction='sum'``: d1 + d2 with each adapter's own skip (public
    code vision_transformer.py:352-354), i.e. 2 x + r1 + r2."""
    torch.manual_seed(0)
    ensemble = EnsembleAdapter(8, hidden_dims=4, init_std=0.3,
                               reduction='sum').eval()
    x = torch.randn(2, 5, 8)
    expected = sum(x + m.up(F.gelu(m.down(x))) for m in ensemble.adapters)
    torch.testing.assert_close(ensemble(x), expected)
    mean = EnsembleAdapter(8, hidden_dims=4, init_std=0.3).eval()
    mean.load_state_dict(ensemble.state_dict())
    torch.testing.assert_close(mean(x), expected / 2)


@pytest.mark.parametrize('weight', [-0.02, 0.005])
def test_fwt_stds_are_sharp_softplus_of_its_parameters(weight):
    """Where softplus with beta=100 (public code vision_transformer.py:293)
    differs from the raw parameter and from a plain softplus: std of gamma and
    beta = log(1 + exp(100 w)) / 100 (0.0013 and 0.0097 here), and both
    parameters get a gradient."""
    fwt = FeatureWiseTransform(8192, gamma_init=weight,
                               beta_init=weight).train()
    std = np.log1p(np.exp(100 * weight)) / 100
    torch.manual_seed(0)
    zeros, ones = torch.zeros(1, 1, 8192), torch.ones(1, 1, 8192)
    beta = fwt(zeros)
    torch.manual_seed(0)
    gamma = fwt(ones) - beta
    assert beta.std().item() == pytest.approx(std, rel=0.05)
    assert (gamma - 1).std().item() == pytest.approx(std, rel=0.05)
    fwt(torch.randn(2, 3, 8192)).pow(2).sum().backward()
    assert fwt.gamma.grad.abs().sum() > 0 and fwt.beta.grad.abs().sum() > 0


def test_fwt_is_identity_in_eval_and_random_per_feature_in_training():
    fwt = FeatureWiseTransform(4096, gamma_init=0.3, beta_init=0.5)
    x = torch.randn(2, 3, 4096)
    assert torch.equal(fwt.eval()(x), x)
    fwt.train()
    torch.manual_seed(0)
    first = fwt(x)
    assert not torch.allclose(first, fwt(x))
    # Affine per feature, shared over batch and tokens: from f(0) = beta and
    # f(1) = gamma + beta; stds are softplus_100(0.3) and softplus_100(0.5).
    beta = fwt(torch.zeros(2, 3, 4096))
    assert torch.equal(beta[0, 0].expand_as(beta), beta)
    assert abs(beta.std().item() - 0.5) < 0.03
    torch.manual_seed(1)
    gamma_plus_beta = fwt(torch.ones(1, 1, 4096))
    torch.manual_seed(1)
    gamma = gamma_plus_beta - fwt(torch.zeros(1, 1, 4096))
    assert abs(gamma.mean().item() - 1) < 0.03
    assert abs(gamma.std().item() - 0.3) < 0.03


def test_cosine_loss_equals_direct_computation_and_reaches_total_loss():
    torch.manual_seed(0)
    ensemble = EnsembleAdapter(8, num_adapters=2, hidden_dims=4,
                               init_std=0.3).train()
    x = torch.randn(2, 5, 8)
    ensemble(x)
    a, b = (x + F.linear(F.gelu(F.linear(x, m.down.weight, m.down.bias)),
                         m.up.weight, m.up.bias) for m in ensemble.adapters)
    cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))
    torch.testing.assert_close(ensemble.cosine_loss, cos.pow(2).mean())

    model = MODELS.build(
        dict(type='FASClassifier',
             backbone=dict(type='AdaptiveVisionTransformer',
                           arch=ARCH,
                           img_size=16,
                           patch_size=8,
                           adapter_cfg=dict(hidden_dims=8, init_std=0.1)),
             head=dict(type='NormLinearClsHead',
                       num_classes=2,
                       in_channels=32,
                       hidden_channels=16),
             cosine_loss_weight=0.5)).train()
    samples = [DataSample().set_gt_label(i % 2) for i in range(4)]
    losses = model.loss(torch.randn(4, 3, 16, 16), samples)
    direct = torch.stack([
        m.cosine_loss for m in model.backbone.modules()
        if isinstance(m, EnsembleAdapter)
    ]).mean()
    torch.testing.assert_close(losses['loss_cos'], 0.5 * direct)
    total, _ = model.parse_losses(losses)
    torch.testing.assert_close(total, losses['loss'] + losses['loss_cos'])
    weight = model.backbone.layers[0].attn_adapter.adapters[0].down.weight
    grad, = torch.autograd.grad(losses['loss_cos'], weight)
    assert grad.abs().sum() > 0


def test_norm_linear_head_is_a_scaled_cosine_classifier():
    torch.manual_seed(0)
    head = NormLinearClsHead(num_classes=2,
                             in_channels=6,
                             hidden_channels=5,
                             scale=3.).eval()
    head.fc.bias.data.normal_()
    feats = torch.randn(4, 6)
    hidden = F.relu(feats @ head.bottleneck[0].weight.T +
                    head.bottleneck[0].bias)
    hidden = hidden / hidden.norm(dim=1, keepdim=True)
    weight = head.fc.weight / head.fc.weight.norm(dim=1, keepdim=True)
    expected = 3. * hidden @ weight.T + head.fc.bias
    torch.testing.assert_close(head((feats, )), expected)


def test_norm_linear_head_public_code_normalisation():
    """``normalisation='public-code'`` (fas.py:59-61, 75-77): the feature is
    divided by sqrt(2 |f|), the weight normalised over classes for each
    input feature (so the class rows have norm ~sqrt(hidden / 2), not 1)."""
    torch.manual_seed(0)
    head = NormLinearClsHead(num_classes=2,
                             in_channels=6,
                             hidden_channels=512,
                             normalisation='public-code').eval()
    head.fc.bias.data.normal_()
    feats = torch.randn(4, 6)
    hidden = F.relu(feats @ head.bottleneck[0].weight.T +
                    head.bottleneck[0].bias)
    hidden = hidden / (2 * hidden.norm(dim=1, keepdim=True)).sqrt()
    weight = head.fc.weight / head.fc.weight.norm(dim=0, keepdim=True)
    expected = hidden @ weight.T + head.fc.bias
    torch.testing.assert_close(head((feats, )), expected)
    with pytest.raises(ValueError, match="normalisation must be"):
        NormLinearClsHead(2, 6, normalisation='l2')


def test_stage_two_trains_exactly_adapters_and_fwt():
    cfg = Config.fromfile(ADAPTIVE_CFG)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    expected = {
        n
        for n, _ in model.named_parameters() if 'adapter' in n or '.fwt.' in n
    }
    assert trainable == expected and len(expected) == 4 * (2 * 2 * 4 + 2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    samples = [DataSample().set_gt_label(i % 2) for i in range(4)]
    model.train()
    optim.update_params(
        model.parse_losses(model.loss(torch.randn(4, 3, 48, 48), samples))[0])
    changed = {
        n
        for n, p in model.named_parameters() if not torch.equal(p, before[n])
    }
    assert changed == expected

    stage1 = Config.fromfile(
        osp.join(CONFIGS,
                 'vit-tiny-p8_head_1xb24-20it_procedural-fas-48px-5shot.py'))
    stage1.model.backbone.init_cfg = None
    head_only = MODELS.build(stage1.model)
    assert {n
            for n, p in head_only.named_parameters() if p.requires_grad} == {
                n
                for n, _ in head_only.named_parameters()
                if n.startswith('head.')
            }
    with pytest.raises(ValueError, match="'nothing.*' matches no parameter"):
        MODELS.build(dict(stage1.model, trainable=['nothing.*']))


class _Infos:

    def __init__(self, infos):
        self.infos = infos

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, index):
        return self.infos[index]


def test_domain_balanced_sampler_batches():
    infos = ([dict(domain='a', gt_label=1)] * 4 +
             [dict(domain='a', gt_label=0)] * 9 +
             [dict(domain='b', gt_label=1)] * 7 +
             [dict(domain='b', gt_label=0)] * 2 +
             [dict(domain='c', gt_label=1)] * 3 +
             [dict(domain='c', gt_label=0)] * 5)
    sampler = DomainBalancedSampler(_Infos(infos), seed=3)
    assert sampler.batch_size == 18
    stream = iter(sampler)
    seen = set()
    for _ in range(6):
        batch = [next(stream) for _ in range(sampler.batch_size)]
        counts = {}
        for i in batch:
            key = (infos[i]['domain'], infos[i]['gt_label'])
            counts[key] = counts.get(key, 0) + 1
        assert counts == {(d, l): 3 for d in 'abc' for l in (0, 1)}
        seen.update(batch)
    assert seen == set(range(len(infos)))  # every pool is cycled through
    again = iter(DomainBalancedSampler(_Infos(infos), seed=3))
    stream = iter(sampler)
    assert [next(again)
            for _ in range(36)] == [next(stream) for _ in range(36)]
    with pytest.raises(FASDataError, match="domain 'b' has no spoof"):
        DomainBalancedSampler(_Infos(infos[:20]))


def _brute_force(scores, labels, threshold):
    far = np.mean(scores[labels == 0] >= threshold)
    frr = np.mean(scores[labels == 1] < threshold)
    return far, frr


def test_metrics_match_scikit_learn_and_brute_force(tmp_path):
    rng = np.random.default_rng(0)
    results, frames = [], {}
    for v in range(60):
        label = int(v < 37)
        for _ in range(rng.integers(1, 4)):
            score = float(np.clip(rng.normal(0.35 + 0.3 * label, 0.2), 0, 1))
            frames.setdefault(v, []).append(score)
            results.append(
                dict(pred_score=torch.tensor([1 - score, score]),
                     gt_label=torch.tensor([label]),
                     video=f'video{v}'))
    scores = np.array([np.mean(frames[v]) for v in range(60)])
    labels = (np.arange(60) < 37).astype(int)

    metric = FASMetric(save_threshold=str(tmp_path / 'thr.json'))
    metric.process(None, results)
    values = metric.compute_metrics(metric.results)
    assert values['num_videos'] == 60
    assert values['AUC'] == pytest.approx(100 * roc_auc_score(labels, scores))
    fpr, tpr, _ = roc_curve(labels, scores)
    assert values['TPR@FPR=1%'] == pytest.approx(100 * tpr[fpr <= .01].max())
    # EER: the threshold (descending order) where FAR and FRR are closest.
    candidates = [np.inf] + sorted(set(scores), reverse=True)
    gaps = [
        abs(np.subtract(*_brute_force(scores, labels, t))) for t in candidates
    ]
    eer_threshold = candidates[int(np.argmin(gaps))]
    far, frr = _brute_force(scores, labels, eer_threshold)
    assert values['EER'] == pytest.approx(100 * (far + frr) / 2)
    assert values['HTER@test-eer'] == pytest.approx(100 * (far + frr) / 2)
    assert values['threshold@test-eer'] == pytest.approx(eer_threshold)
    assert 0 < values['HTER@test-eer'] < 50

    fixed = FASMetric(threshold=0.5)
    fixed.process(None, results)
    values = fixed.compute_metrics(fixed.results)
    assert values['HTER@fixed'] == pytest.approx(
        100 * np.mean(_brute_force(scores, labels, 0.5)))
    with open(tmp_path / 'thr.json') as f:
        assert json.load(f)['threshold'] == pytest.approx(eer_threshold)
    val = FASMetric(threshold=str(tmp_path / 'thr.json'))
    val.process(None, results[::2])
    assert 'HTER@val' in val.compute_metrics(val.results)
    with pytest.raises(FASDataError, match='both live and spoof'):
        fas_metrics(np.ones(3), np.ones(3))


def _write(path, value=128):
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.full((8, 8, 3), value, np.uint8))


def test_frame_dataset_folders_lists_shots_and_errors(tmp_path):
    root = str(tmp_path)
    for i in range(3):
        for k in range(2):
            _write(f'{root}/msu/train/real/live{i}_frame{k}.png')
            _write(f'{root}/msu/train/fake/attack{i}_frame{k}.png')
        _write(f'{root}/casia/train/real/video{i}/0{i}.jpg')
        _write(f'{root}/casia/train/fake/video{i}/0{i}.jpg')
    data = FASFrameDataset(root,
                           domains=['msu', 'casia'],
                           split='train',
                           lazy_init=True)
    data.full_init()
    infos = [data.get_data_info(i) for i in range(len(data))]
    assert len(infos) == 12 + 6
    assert {i['video']
            for i in infos if i['domain'] == 'msu'} == {
                f'msu/train/{c}/{n}{i}'
                for c, n in (('real', 'live'), ('fake', 'attack'))
                for i in range(3)
            }
    assert sum(i['gt_label'] for i in infos) == 6 + 3
    assert {i['video']
            for i in infos if i['domain'] == 'casia'} == {
                f'casia/train/{c}/video{i}'
                for c in ('real', 'fake')
                for i in range(3)
            }

    lines = [f'msu/train/real/live{i}_frame0.png live msu' for i in range(3)]
    lines += [
        f'msu/train/fake/attack{i}_frame0.png fake msu v{i}' for i in range(3)
    ]
    (tmp_path / 'list.txt').write_text('\n'.join(lines) + '\n')
    listed = FASFrameDataset(root, ann_file='list.txt', num_shots=2)
    assert [listed.get_data_info(i)['video'] for i in range(4)
            ] == ['msu/train/real/live0', 'msu/train/real/live1', 'v0', 'v1']
    seeded = [
        FASFrameDataset(root, ann_file='list.txt', num_shots=2, shot_seed=s)
        for s in (5, 5)
    ]
    assert ([d['img_path'] for d in seeded[0].load_data_list()
             ] == [d['img_path'] for d in seeded[1].load_data_list()])

    with pytest.raises(FASDataError, match=r"domain\(s\) \['oulu'\]"):
        FASFrameDataset(root, ann_file='list.txt', domains=['oulu'])
    with pytest.raises(FASDataError, match='needs 5 live frames; .* 3'):
        FASFrameDataset(root, ann_file='list.txt', num_shots=5)
    (tmp_path / 'bad.txt').write_text('msu/a.png live msu\nmsu/b.png\n')
    with pytest.raises(FASDataError, match=r'bad.txt:2: expected'):
        FASFrameDataset(root, ann_file='bad.txt')
    os.makedirs(f'{root}/casia/train/real/empty_video')
    with pytest.raises(FASDataError, match='video without frames: .*empty'):
        FASFrameDataset(root, domains=['casia'], split='train')


def _video(path, num_frames, size=(40, 32)):
    """Frame i is uniform grey 8 i + 4, so a crop tells which was sampled."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    codec = 'MJPG' if path.endswith('.avi') else 'mp4v'
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), 10, size)
    for i in range(num_frames):
        writer.write(np.full((size[1], size[0], 3), 8 * i + 4, np.uint8))
    writer.release()


def _lines(path, rows):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.writelines(' '.join(str(v) for v in row) + '\n' for row in rows)


def _oulu(root):
    for name, frames in (('Train_files/1_1_01_1', 14), ('Train_files/1_1_01_2',
                                                        14),
                         ('Dev_files/1_1_21_4', 14), ('Test_files/1_1_36_1',
                                                      14)):
        _video(f'{root}/{name}.avi', frames)
        _lines(f'{root}/{name}.txt',
               [(f'{i},', '12,', '14,', '28,', 14) for i in range(frames)])
    return {
        'train': [('1_1_01_1', 1), ('1_1_01_2', 0)],
        'dev': [('1_1_21_4', 0)],
        'test': [('1_1_36_1', 1)]
    }, 14


def _casia(root):
    for name in ('train_release/1/1', 'train_release/1/HR_2',
                 'test_release/21/HR_1'):
        _video(f'{root}/{name}.avi', 20)
    return {'train': [('1_1', 1), ('1_HR_2', 0)], 'test': [('21_HR_1', 1)]}, 20


def _replay(root):
    real = 'client001_session01_webcam_authenticate_adverse_1'
    attack = 'attack_highdef_client001_session01_highdef_photo_adverse'
    for name in (f'train/real/{real}', f'train/attack/fixed/{attack}',
                 f'train/attack/hand/{attack}', f'test/real/{real}'):
        _video(f'{root}/{name}.mov', 16)
        _lines(f'{root}/face-locations/{name}.face',
               [(i, 10, 8, 20, 16) for i in range(16)])
    return {
        'train': [(real, 1), (f'fixed_{attack}', 0), (f'hand_{attack}', 0)],
        'test': [(real, 1)]
    }, 16


def _msu(root):
    for name in ('real/real_client002_android_SD_scene01.mp4',
                 'attack/attack_client002_android_SD_ipad_video_scene01.mov',
                 'real/real_client001_laptop_SD_scene01.mov'):
        _video(f'{root}/scene01/{name}', 12)
    _lines(f'{root}/train_sub_list.txt', [('002', )])
    _lines(f'{root}/test_sub_list.txt', [('001', )])
    return {
        'train': [('real_client002_android_SD_scene01', 1),
                  ('attack_client002_android_SD_ipad_video_scene01', 0)],
        'test': [('real_client001_laptop_SD_scene01', 1)]
    }, 12


def _celeba_spoof(root):
    for name, value in (('train/167/live/096546', 60),
                        ('train/197/spoof/420156', 90), ('test/3/live/000001',
                                                         30)):
        _write(f'{root}/Data/{name}.jpg', value)
        _lines(f'{root}/Data/{name}_BB.txt', [(50, 60, 100, 110, 0.99)])
    return {
        'train': [('167_live_096546', 1), ('197_spoof_420156', 0)],
        'test': [('3_live_000001', 1)]
    }, None


@pytest.mark.parametrize('dataset, domain, fixture',
                         [('oulu', 'oulu', _oulu), ('casia', 'casia', _casia),
                          ('replay', 'replay', _replay), ('msu', 'msu', _msu),
                          ('celeba_spoof', 'celeb', _celeba_spoof)])
def test_converters_on_fixtures_in_each_real_layout(tmp_path, dataset, domain,
                                                    fixture):
    from mmext.classification.fas.converters import convert
    root, out = str(tmp_path / 'raw'), str(tmp_path / 'out')
    expected, num_frames = fixture(root)
    counts = convert(dataset, root, out)
    frames = 1 if num_frames is None else 2
    assert counts == {s: frames * len(v) for s, v in expected.items()}
    for split, videos in expected.items():
        data = FASFrameDataset(out, ann_file=f'{domain}/{split}.txt')
        infos = [data.get_data_info(i) for i in range(len(data))]
        assert sorted({(i['video'], i['gt_label'])
                       for i in infos}) == sorted(
                           (f'{domain}/{split}/{v}', label)
                           for v, label in videos)
        for info in infos:
            crop = cv2.imread(info['img_path'])
            assert crop.shape == (224, 224, 3)
            if num_frames is not None:  # frames 6 and 6 + T // 2
                k = int(info['img_path'][-5])
                index = [6, min(6 + num_frames // 2, num_frames - 1)][k]
                assert abs(int(crop[112, 112, 1]) - (8 * index + 4)) <= 3


def test_converter_errors_are_one_clear_line(tmp_path, python):
    from mmext.classification.fas.converters import convert
    root = str(tmp_path / 'casia')
    _video(f'{root}/train_release/1/1.avi', 4)
    with pytest.raises(FASDataError, match=r'1.avi has 4 frame\(s\)'):
        convert('casia', root, str(tmp_path / 'out'))
    _celeba_spoof(str(tmp_path / 'celeb'))
    os.remove(tmp_path / 'celeb/Data/train/167/live/096546_BB.txt')
    from tests.conftest import run_tool
    result = run_tool(python, 'tools/fas/convert_fas.py', 'celeba_spoof',
                      tmp_path / 'celeb', tmp_path / 'out')
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: face box not found: "
        f"{tmp_path}/celeb/Data/train/167/live/096546_BB.txt"
    ]


def test_protocol_configs_balance_domains_and_chain_stages():
    """Every MCIO / WCS config: one dataset per domain, 6 frames of each per
    batch, the target's test split, stage 2 loading its own stage 1."""
    import glob
    paper = sorted(
        glob.glob(osp.join(CONFIGS, '*-vit-base-p16_*.py')) +
        glob.glob(osp.join(CONFIGS, 'vit-base-p16_*.py')))
    assert len(paper) == 2 * 2 * (4 + 3)
    for path in paper:
        cfg = Config.fromfile(path)
        name = osp.basename(path)[:-3]
        protocol, target, shots = name.split('_')[-1].split('-')
        parts = cfg.train_dataloader.dataset.datasets
        assert cfg.train_dataloader.batch_size == 6 * len(parts)
        lists = [p.ann_file for p in parts]
        assert 'celeb/train.txt' in lists
        assert (f'{target}/train.txt' in lists) == (shots == '5shot')
        assert cfg.test_dataloader.dataset.ann_file == f'{target}/test.txt'
        if name.startswith('adaptive'):
            stage1 = cfg.load_from.split('/')[1]
            assert osp.isfile(osp.join(CONFIGS, stage1 + '.py'))
            assert stage1.endswith(f'{protocol}-{target}-{shots}')
            # Public code config.py: C, I 0.03 (:14, :32); M, O 1 (:50,
            # :68); CeFA 1 (:86), SURF 0.1 (:104), WMCA 0.01 (:122).
            weights = dict(casia=0.03,
                           replay=0.03,
                           msu=1.,
                           oulu=1.,
                           cefa=1.,
                           surf=0.1,
                           wmca=0.01)
            assert cfg.model.cosine_loss_weight == weights[target]
            assert cfg.model.backbone.fwt_cfg.gamma_init == (
                0.3 if protocol == 'mcio' else 0.1)
        else:
            assert cfg.model.trainable == ['head.*']
        assert cfg.model.head.normalisation == 'public-code'
        assert [t['type'] for t in cfg.train_pipeline] == [
            'LoadImageFromFile', 'Resize', 'RandomFlip', 'RandomApply',
            'PackInputs'
        ]
