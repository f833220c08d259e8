import math

import pytest
import torch

from mmext.flow.models import CostVolume, DotProductCostVolume
from mmext.registry import MODELS


@pytest.fixture
def feats():
    torch.manual_seed(0)
    return torch.randn(2, 5, 4, 6), torch.randn(2, 5, 4, 6)


class Doubled(CostVolume):
    """A cost volume that changes only the feature transform, as LCV does."""

    def transform(self, feat):
        return 2 * feat


def brute_force_local(feat1, feat2, d):
    B, C, H, W = feat1.shape
    out = torch.zeros(B, (2 * d + 1)**2, H, W)
    for b in range(B):
        for y in range(H):
            for x in range(W):
                for k, (dy, dx) in enumerate((dy, dx)
                                             for dy in range(-d, d + 1)
                                             for dx in range(-d, d + 1)):
                    if 0 <= y + dy < H and 0 <= x + dx < W:
                        out[b, k, y, x] = sum(feat1[b, c, y, x] *
                                              feat2[b, c, y + dy, x + dx]
                                              for c in range(C))
    return out


def test_dot_product_is_registered_and_parameter_free():
    cost_volume = MODELS.build(dict(type='DotProductCostVolume', channels=5))
    assert isinstance(cost_volume, DotProductCostVolume)
    assert cost_volume.channels == 5
    assert len(cost_volume.state_dict()) == 0


def test_all_pairs_equals_einsum(feats):
    feat1, feat2 = feats
    corr = DotProductCostVolume(5).all_pairs(feat1, feat2)
    expected = torch.einsum('bcij,bckl->bijkl', feat1, feat2) / math.sqrt(5)
    assert corr.shape == (2, 4, 6, 4, 6)
    torch.testing.assert_close(corr, expected)


@pytest.mark.parametrize('d', [1, 2])
def test_local_equals_brute_force(feats, d):
    feat1, feat2 = feats
    corr = DotProductCostVolume(5).local(feat1, feat2, d)
    assert corr.shape == (2, (2 * d + 1)**2, 4, 6)
    torch.testing.assert_close(corr, brute_force_local(feat1, feat2, d))


def test_local_centre_channel_is_channel_sum(feats):
    feat1, feat2 = feats
    corr = DotProductCostVolume(5).local(feat1, feat2, 1)
    torch.testing.assert_close(corr[:, 4], (feat1 * feat2).sum(dim=1))


def test_transform_applies_to_both_layouts(feats):
    feat1, feat2 = feats
    plain, doubled = DotProductCostVolume(5), Doubled(5)
    torch.testing.assert_close(
        doubled.all_pairs(feat1, feat2), 4 * plain.all_pairs(feat1, feat2))
    torch.testing.assert_close(
        doubled.local(feat1, feat2, 1), 4 * plain.local(feat1, feat2, 1))


def test_gradients_reach_both_feature_maps(feats):
    feat1, feat2 = (f.clone().requires_grad_() for f in feats)
    cost_volume = DotProductCostVolume(5)
    (cost_volume.all_pairs(feat1, feat2).sum() +
     cost_volume.local(feat1, feat2, 1).sum()).backward()
    assert feat1.grad.abs().sum() > 0 and feat2.grad.abs().sum() > 0
