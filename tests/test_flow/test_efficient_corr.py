"""RAFT's memory-efficient lookup against the all-pairs volume it replaces."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmext.flow.models import CorrelationPyramid, CorrLookup
from mmext.flow.models.raft import OnDemandPyramid
from tests.test_flow.test_lcv import randomise_lcvs, with_lcv
from tests.test_flow.test_raft import MMFLOW_RAFT, build, shifted_pair


def correlate(feat1, feat2):
    """(B, C, H, W) x (B, C, h, w) -> (B, H, W, h, w), by einsum."""
    return torch.einsum('bcij,bckl->bijkl', feat1, feat2)


def random_flow(B, H, W, seed=0):
    """Flows that reach every border and beyond, with integer, half-integer
    and fractional targets."""
    generator = torch.Generator().manual_seed(seed)
    flow = torch.randn(B, 2, H, W, generator=generator) * 4
    flow[:, :, 0] = torch.round(flow[:, :, 0])  # exact grid points
    flow[:, :, 1] = torch.round(flow[:, :, 1]) + .5
    flow[0, :, 2, :3] = torch.tensor([[200., -W - 9.25, W + .5],
                                      [-60., 3., -H - 7.5]])
    return flow


@pytest.mark.parametrize('B,C,H,W', [(2, 6, 13, 11), (1, 4, 9, 16)])
def test_pooled_volume_is_volume_of_pooled_features(B, C, H, W):
    """Average pooling over image-2 positions commutes with the correlation
    (linear in feature 2), at every level including odd sizes."""
    torch.manual_seed(0)
    feat1 = torch.randn(B, C, H, W, dtype=torch.float64)
    feat2 = torch.randn(B, C, H, W, dtype=torch.float64)
    pyramid = CorrelationPyramid(4)
    volumes = pyramid(correlate(feat1, feat2))
    for volume, pooled in zip(volumes, pyramid.pool_levels(feat2)):
        h, w = pooled.shape[-2:]
        torch.testing.assert_close(
            volume.view(B, H, W, h, w),
            correlate(feat1, pooled),
            rtol=0,
            atol=1e-13)


def test_sampled_volume_is_dot_with_sampled_features():
    """Bilinear sampling with zero padding is linear, so sampling the volume
    equals the dot product with the sampled features, also out of range."""
    torch.manual_seed(0)
    B, C, H, W, h, w = 2, 5, 7, 6, 4, 3
    feat1 = torch.randn(B, C, H, W, dtype=torch.float64)
    feat2 = torch.randn(B, C, h, w, dtype=torch.float64)
    points = torch.rand(B, H, W, 2, dtype=torch.float64) * 3 - 1.5
    points[0, 0, :3] = torch.tensor([[-1., 1.], [1.2, -1.7], [0., 0.]])
    volume = correlate(feat1, feat2).reshape(B * H * W, 1, h, w)
    from_volume = F.grid_sample(
        volume, points.view(B * H * W, 1, 1, 2), align_corners=True)
    sampled = F.grid_sample(
        feat2, points.view(B, H * W, 1, 2), align_corners=True)
    from_features = (feat1.view(B, C, H * W, 1) * sampled).sum(1)
    torch.testing.assert_close(
        from_volume.view(B, H * W), from_features.view(B, H * W),
        rtol=0, atol=1e-13)


@pytest.mark.parametrize('B,C,H,W,tile', [(2, 6, 13, 11, 8), (1, 4, 9, 16, 3),
                                          (1, 8, 24, 20, 4)])
def test_on_demand_lookup_equals_all_pairs_lookup(B, C, H, W, tile):
    """Every level (a size-1 level at 9x16 included), borders, points far out
    of range, exact grid points; tiles that split the image unevenly."""
    torch.manual_seed(0)
    feat1, feat2 = torch.randn(B, C, H, W), torch.randn(B, C, H, W)
    flow = random_flow(B, H, W)
    pyramid = CorrelationPyramid(4)
    volume = correlate(feat1, feat2) / C**.5
    all_pairs = CorrLookup(radius=3)(pyramid(volume), flow)
    on_demand = CorrLookup(radius=3, memory_efficient=True, tile=tile)(
        OnDemandPyramid(feat1, pyramid.pool_levels(feat2)), flow)
    assert on_demand.shape == all_pairs.shape == (B, 4 * 49, H, W)
    # The lookup reaches the zero padding and the map: both are tested.
    assert (all_pairs == 0).float().mean() > .05
    assert (all_pairs.abs() > 1e-2).float().mean() > .2
    torch.testing.assert_close(on_demand, all_pairs, rtol=1e-5, atol=1e-5)


def test_auto_choice_follows_volume_size():
    lookup = CorrLookup(memory_efficient='auto', auto_bytes=4 * 100**2)
    assert not lookup.on_demand(torch.empty(1, 3, 10, 10))  # 4e4 B: fits
    assert lookup.on_demand(torch.empty(2, 3, 10, 10))
    assert CorrLookup(memory_efficient=True).on_demand(torch.empty(1, 1, 1, 1))
    with pytest.raises(ValueError, match='memory_efficient'):
        CorrLookup(memory_efficient='yes')
    with pytest.raises(ValueError, match='align_corners'):
        CorrLookup(memory_efficient=True, align_corners=False)


def on_demand(cfg):
    cfg = copy.deepcopy(cfg)
    cfg['decoder']['corr_op_cfg'] = dict(
        type='CorrLookup', memory_efficient=True)
    return cfg


@pytest.mark.parametrize('cost_volume', [None, 'LCV'])
def test_full_model_flow_and_gradients_agree(cost_volume):
    """RAFT end to end, plain and with a trained-looking LCV (which transforms
    the features before they are pooled and correlated); 64x96 images give
    8x12 features, so the coarsest level is 1x1."""
    cfg = MMFLOW_RAFT if cost_volume is None else with_lcv(MMFLOW_RAFT)
    cfg = copy.deepcopy(cfg)
    cfg['decoder']['iters'] = 2
    models = [build(cfg), build(on_demand(cfg))]
    if cost_volume:
        models = [randomise_lcvs(model) for model in models]
    imgs = shifted_pair(64, 96, batch=2)
    with torch.no_grad():
        flows = [model.eval()(imgs) for model in models]
    assert flows[0].abs().max() > .5
    assert (flows[0] - flows[1]).abs().max() < 1e-3
    gt = torch.randn(1, 2, 64, 96)
    grads = []
    for model in models:
        model.train()
        model.zero_grad()
        loss = model.decoder.losses(
            model.estimate(imgs[:1], test_mode=False), gt)['loss_flow']
        loss.backward()
        grads.append(
            torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert (grads[1] - grads[0]).norm() < 1e-4 * grads[0].norm()
