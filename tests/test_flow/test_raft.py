import ast
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint
from torch.nn.modules.batchnorm import _BatchNorm

from mmext.flow import FlowDataSample
from mmext.flow.models import (RAFT, CorrelationPyramid, CorrLookup,
                               InputPadder, RAFTEncoder, SequenceLoss)
from mmext.registry import MODELS

SPEC = osp.join(
    osp.dirname(__file__), '..', 'data', 'mmflow_raft_state_dict_keys.txt')

# mmflow 0.5.2's configs/_base_/models/raft.py, as used by
# raft_8x2_100k_flyingchairs_368x496.py.
MMFLOW_RAFT = dict(
    type='RAFT',
    num_levels=4,
    radius=4,
    cxt_channels=128,
    h_channels=128,
    encoder=dict(
        type='RAFTEncoder',
        in_channels=3,
        out_channels=256,
        net_type='Basic',
        norm_cfg=dict(type='IN'),
        init_cfg=[
            dict(
                type='Kaiming',
                layer=['Conv2d'],
                mode='fan_out',
                nonlinearity='relu'),
            dict(type='Constant', layer=['InstanceNorm2d'], val=1, bias=0)
        ]),
    cxt_encoder=dict(
        type='RAFTEncoder',
        in_channels=3,
        out_channels=256,
        net_type='Basic',
        norm_cfg=dict(type='SyncBN'),
        init_cfg=[
            dict(
                type='Kaiming',
                layer=['Conv2d'],
                mode='fan_out',
                nonlinearity='relu'),
            dict(type='Constant', layer=['SyncBatchNorm2d'], val=1, bias=0)
        ]),
    decoder=dict(
        type='RAFTDecoder',
        net_type='Basic',
        num_levels=4,
        radius=4,
        iters=12,
        corr_op_cfg=dict(type='CorrLookup', align_corners=True),
        gru_type='SeqConv',
        flow_loss=dict(type='SequenceLoss'),
        act_cfg=dict(type='ReLU')),
    freeze_bn=False,
    train_cfg=dict(),
    test_cfg=dict())

SMALL_RAFT = dict(
    type='RAFT',
    num_levels=4,
    radius=4,
    cxt_channels=64,
    h_channels=96,
    encoder=dict(
        type='RAFTEncoder',
        in_channels=3,
        out_channels=128,
        net_type='Small',
        norm_cfg=dict(type='IN')),
    cxt_encoder=dict(
        type='RAFTEncoder',
        in_channels=3,
        out_channels=160,
        net_type='Small',
        norm_cfg=dict(type='BN')),
    decoder=dict(
        type='RAFTDecoder',
        net_type='Small',
        num_levels=4,
        radius=4,
        iters=3,
        gru_type='Conv',
        feat_channels=128,
        flow_loss=dict(type='SequenceLoss'),
        act_cfg=dict(type='ReLU')),
    test_cfg=dict(iters=2))


def build(cfg, seed=0, **changes):
    cfg = copy.deepcopy(cfg)
    cfg.update(changes)
    torch.manual_seed(seed)
    return MODELS.build(cfg)


def samples_with(flows, valids=None):
    samples = []
    for i, flow in enumerate(flows):
        sample = FlowDataSample()
        sample.gt_flow_fw = flow
        if valids is not None:
            sample.gt_valid_fw = valids[i]
        samples.append(sample)
    return samples


def shifted_pair(H, W, batch=1):
    torch.manual_seed(1)
    img1 = torch.rand(batch, 3, H, W) * 2 - 1
    return torch.cat([img1, torch.roll(img1, (1, 2), dims=(2, 3))], dim=1)


def read_spec():
    with open(SPEC) as f:
        return [(name, ast.literal_eval(shape))
                for name, shape in (line.split(' ', 1) for line in f)]


@pytest.fixture(scope='module')
def mmflow_raft():
    return build(MMFLOW_RAFT)


def test_state_dict_matches_mmflow_in_order(mmflow_raft):
    # Order matters when resuming an mmflow optimizer state (mapped by index).
    ours = [(k, tuple(v.shape)) for k, v in mmflow_raft.state_dict().items()]
    assert ours == read_spec()
    assert sum(p.numel() for p in mmflow_raft.parameters()) == 5257536


def test_mmflow_checkpoint_loads_without_missing_or_unexpected_keys(tmp_path):
    source = build(MMFLOW_RAFT, seed=1, test_cfg=dict(iters=1))
    for module in source.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean.uniform_(-1, 1)
    path = tmp_path / 'raft.pth'
    torch.save(
        dict(
            meta=dict(mmflow_version='0.5.2'), state_dict=source.state_dict()),
        path)
    target = build(MMFLOW_RAFT, seed=2, test_cfg=dict(iters=1))
    imgs = shifted_pair(64, 64)
    source.eval()
    target.eval()
    name = 'decoder.gru.conv_z.0.conv.weight'
    assert not torch.equal(target.state_dict()[name],
                           source.state_dict()[name])
    load_checkpoint(target, str(path), map_location='cpu', strict=True)
    with torch.no_grad():
        torch.testing.assert_close(target(imgs), source(imgs))
    # strict=True is what turns any missing or unexpected key into an error.
    torch.save(dict(state_dict=dict(source.state_dict(), extra=imgs)), path)
    with pytest.raises(RuntimeError, match='unexpected key'):
        load_checkpoint(target, str(path), map_location='cpu', strict=True)


def test_unpadded_prediction_equals_cropped_padded_prediction():
    model = build(SMALL_RAFT).eval()
    imgs = shifted_pair(60, 84)
    with torch.no_grad():
        flow = model(imgs)
        # 60x84 pads to 64x88: (2, 2) rows, (2, 2) columns, replicated.
        padded = model(F.pad(imgs, (2, 2, 2, 2), mode='replicate'))
    assert flow.shape == (1, 2, 60, 84)
    torch.testing.assert_close(flow, padded[..., 2:62, 2:86])


def test_padder_splits_odd_padding_and_round_trips():
    padder = InputPadder((61, 85), 8)
    pads = (padder.top, padder.bottom, padder.left, padder.right)
    assert pads == (1, 2, 1, 2)
    x = torch.randn(1, 2, 61, 85)
    padded = padder.pad(x)
    assert padded.shape[-2:] == (64, 88)
    assert torch.equal(padded[..., 0, 1:-2], x[..., 0, :])
    assert torch.equal(padder.unpad(padded), x)


def test_predict_fills_pred_and_keeps_ground_truth():
    model = build(SMALL_RAFT).eval()
    gt = torch.ones(2, 60, 84)
    with torch.no_grad():
        results = model(shifted_pair(60, 84), samples_with([gt]), 'predict')
        fresh = model(shifted_pair(60, 84), mode='predict')
    assert results[0].pred_flow_fw.data.shape == (2, 60, 84)
    assert torch.equal(results[0].gt_flow_fw.data, gt)
    assert isinstance(fresh[0], FlowDataSample)
    assert fresh[0].pred_flow_fw.data.shape == (2, 60, 84)


def test_iterations_come_from_decoder_in_training_and_test_cfg_in_test():
    model = build(SMALL_RAFT)
    imgs = shifted_pair(64, 64)
    assert len(model.estimate(imgs, test_mode=False)) == 3
    final, = model.estimate(imgs, test_mode=True)
    model.decoder.iters = 2
    every = model.estimate(imgs, test_mode=False)
    assert len(every) == 2
    assert torch.equal(final, every[-1])


@pytest.mark.parametrize('cfg', [SMALL_RAFT, MMFLOW_RAFT])
def test_inference_upsamples_only_the_final_flow(cfg):
    """Bilinear (small) and convex (mask head) upsampling: the final flow
    of a test-mode pass is that of a pass upsampling every iteration, with
    the mask head run once."""
    model = build(cfg, test_cfg=dict(iters=3)).eval()
    imgs = shifted_pair(64, 64)
    has_mask = model.decoder.mask_pred is not None
    mask_calls = []
    if has_mask:
        model.decoder.mask_pred.register_forward_hook(
            lambda *args: mask_calls.append(1))
    with torch.no_grad():
        final = model(imgs)
        assert len(mask_calls) == has_mask
        feat1, feat2, h, cxt = model.extract_feat(imgs)
        every = model.decoder(
            feat1, feat2, torch.zeros(1, 2, 8, 8), h, cxt, iters=3)
    assert torch.equal(final, every[-1])
    assert not torch.allclose(every[-2], every[-1])


def test_loss_decreases_and_reaches_every_part():
    model = build(SMALL_RAFT)
    imgs = shifted_pair(64, 64)
    samples = samples_with([torch.full((2, 64, 64), 1.5)])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    losses = []
    for _ in range(2):
        loss = model(imgs, samples, mode='loss')['loss_flow']
        optimizer.zero_grad()
        loss.backward()
        if not losses:
            for part in (model.encoder, model.context, model.decoder):
                assert any(p.grad is not None and p.grad.abs().sum() > 0
                           for p in part.parameters())
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_non_finite_ground_truth_counts_as_invalid():
    model = build(SMALL_RAFT)
    imgs = shifted_pair(64, 64)
    gt = torch.randn(2, 64, 64)
    with_nan = gt.clone()
    with_nan[:, :10] = float('nan')
    with_nan[0, 20, 20] = float('inf')
    valid = torch.ones(1, 64, 64)
    valid[:, :10] = 0
    valid[:, 20, 20] = 0
    with torch.no_grad():
        nan_loss = model(imgs, samples_with([with_nan]), 'loss')['loss_flow']
        masked_loss = model(imgs, samples_with([gt], [valid]),
                            'loss')['loss_flow']
    assert torch.isfinite(nan_loss)
    torch.testing.assert_close(nan_loss, masked_loss)


def test_freeze_bn_keeps_batch_norm_statistics():
    model = build(SMALL_RAFT, freeze_bn=True)
    model.train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and not any(m.training for m in norms)
    before = [m.running_mean.clone() for m in norms]
    model(shifted_pair(64, 64), samples_with([torch.zeros(2, 64, 64)]), 'loss')
    assert all(torch.equal(m.running_mean, b) for m, b in zip(norms, before))


def test_encoder_strides_by_eight_and_freezes_stages():
    encoder = RAFTEncoder(
        3, 32, norm_cfg=dict(type='BN'), frozen_stages=1, norm_eval=True)
    assert encoder(torch.randn(1, 3, 64, 40)).shape == (1, 32, 8, 5)
    encoder.train()
    assert not any(p.requires_grad for p in encoder.res_layer1.parameters())
    assert all(p.requires_grad for p in encoder.res_layer2.parameters())
    assert not any(m.training
                   for m in encoder.modules() if isinstance(m, _BatchNorm))


def test_lookup_reads_the_window_around_the_flow_target():
    torch.manual_seed(0)
    B, H, W, r = 1, 8, 8, 2
    corr = torch.randn(B, H, W, H, W)
    pyramid = CorrelationPyramid(num_levels=2)(corr)
    flow = torch.zeros(B, 2, H, W)
    flow[:, 0], flow[:, 1] = 1., -1.
    out = CorrLookup(radius=r)(pyramid, flow)
    assert out.shape == (B, 2 * (2 * r + 1)**2, H, W)
    y, x = 5, 3
    tx, ty = x + 1, y - 1
    for i in range(2 * r + 1):
        for j in range(2 * r + 1):
            # The slower window axis shifts x, the faster one y.
            expected = corr[0, y, x, ty + j - r,
                            tx + i - r] if (0 <= ty + j - r < H
                                            and 0 <= tx + i - r < W) else 0.
            assert out[0, i * (2 * r + 1) + j, y, x] == pytest.approx(
                float(expected), abs=1e-5)
    coarse = F.avg_pool2d(corr[0, y, x][None, None], 2)[0, 0]
    assert out[0, (2 * r + 1)**2 + r * (2 * r + 1) + r, y, x] == \
        pytest.approx(float(coarse[ty // 2, tx // 2]), abs=1e-5)


def test_convex_upsampling_with_uniform_mask_averages_neighbours(mmflow_raft):
    decoder = mmflow_raft.decoder
    flow = torch.full((1, 2, 3, 4), 0.5)
    up = decoder._upsample(flow, torch.zeros(1, 9 * 64, 3, 4))
    assert up.shape == (1, 2, 24, 32)
    torch.testing.assert_close(up[:, :, 8:16, 8:24],
                               torch.full((1, 2, 8, 16), 4.))
    # A border pixel has 3 of 9 neighbours outside the map (zero padded).
    torch.testing.assert_close(up[:, :, 0, 8], torch.full((1, 2), 4. * 6 / 9))


def test_sequence_loss_matches_hand_computation():
    loss = SequenceLoss(gamma=0.5, max_flow=400.)
    gt = torch.tensor([3., 0., 4., 500.]).view(1, 2, 1, 2)
    preds = [torch.zeros(1, 2, 1, 2), gt + 1]
    # Unmasked: all 4 entries count; pred 0 weighs 0.5, pred 1 weighs 1.
    unmasked = 0.5 * (3 + 0 + 4 + 500) / 4 + 1. * 4 / 4
    assert loss(preds, gt).item() == pytest.approx(unmasked)
    # A mask enables the max_flow filter: pixel 1 (|gt| = 500) is dropped.
    masked = 0.5 * (3 + 4) / 4 + 1. * 2 / 4
    assert loss(preds, gt, torch.ones(1, 1, 2)).item() == \
        pytest.approx(masked)
    # Mask values below 0.5 are invalid.
    assert loss(preds, gt, torch.tensor([[[0.4, 1.]]])).item() == 0.


def test_decoder_builds_the_configured_cost_volume(mmflow_raft):
    assert isinstance(mmflow_raft, RAFT)
    cost_volume = mmflow_raft.decoder.cost_volume
    assert type(cost_volume).__name__ == 'DotProductCostVolume'
    assert cost_volume.channels == mmflow_raft.encoder.out_channels


def test_inconsistent_channels_are_rejected():
    with pytest.raises(ValueError):
        build(MMFLOW_RAFT, h_channels=96)


def test_runner_steps_go_through_the_default_preprocessor():
    model = build(SMALL_RAFT)
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.))
    torch.manual_seed(0)
    pair = (torch.rand(6, 64, 64) * 255).to(torch.uint8)
    data = dict(
        inputs=[pair], data_samples=samples_with([torch.ones(2, 64, 64)]))
    log_vars = model.train_step(data, optim_wrapper)
    assert set(log_vars) == {'loss', 'loss_flow'}
    model.eval()
    with torch.no_grad():
        result = model.test_step(data)[0]
        expected = model((pair[None].float() - 127.5) / 127.5)
    torch.testing.assert_close(result.pred_flow_fw.data, expected[0])
