"""PWC-Net and MultiLevelEPE, against mmflow 0.5.2's definitions.

``MMFLOW_PWCNET`` is the ``model`` dict of mmflow's ``configs/_base_/models/pwcnet.py``
(used by ``pwcnet_8x1_slong_flyingchairs_384x448.py``), copied verbatim.

``tests/data/mmflow_pwcnet_state_dict_keys.txt`` lists the names and shapes of
mmflow 0.5.2's own ``PWCNet.state_dict()`` for that config, written by building the
model with mmflow 0.5.2 on mmcv 1.7.2's Python sources (the CUDA-only
``mmcv.ops.Correlation``, which holds no weights, stubbed).

The parity numbers (``MMFLOW_*``) were recorded from that same mmflow model, with its
``Correlation`` replaced by a loop-by-loop CPU transcription of mmcv's CUDA kernel,
after loading ``closed_form_state_dict`` into it and feeding it
``closed_form_inputs`` (both in ``tests/data/pwcnet_reference/formula.py``): the
decoder pyramid, ``decoder.losses`` and ``forward_test``'s flow.
``tests/data/pwcnet_reference/make_reference.py`` (with the transcription,
``correlation_cpu.py``) regenerates and checks them; its docstring says how to build
the mmflow venv it runs in.
"""
import copy
import importlib.util
import math
import os.path as osp
import sys

import pytest
import torch

from mmext.flow.models.cost_volumes import CostVolume
from mmext.flow.models.multilevel_epe import MultiLevelEPE
from mmext.flow.models.pwcnet import PWCNet, PWCNetDecoder, Warp
from mmext.flow.structures import FlowDataSample
from mmext.registry import MODELS

DATA = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'data')
KEYS_FILE = osp.join(DATA, 'mmflow_pwcnet_state_dict_keys.txt')


def _load_reference_module(name):
    """A module of tests/data/pwcnet_reference (not a package: by path)."""
    spec = importlib.util.spec_from_file_location(
        f'pwcnet_reference_{name}',
        osp.join(DATA, 'pwcnet_reference', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_formula = _load_reference_module('formula')
closed_form_state_dict = _formula.closed_form_state_dict
closed_form_inputs = _formula.closed_form_inputs

MMFLOW_PWCNET = dict(
    type='PWCNet',
    encoder=dict(
        type='PWCNetEncoder',
        in_channels=3,
        net_type='Basic',
        pyramid_levels=[
            'level1', 'level2', 'level3', 'level4', 'level5', 'level6'
        ],
        out_channels=(16, 32, 64, 96, 128, 196),
        strides=(2, 2, 2, 2, 2, 2),
        dilations=(1, 1, 1, 1, 1, 1),
        act_cfg=dict(type='LeakyReLU', negative_slope=0.1)),
    decoder=dict(
        type='PWCNetDecoder',
        in_channels=dict(
            level6=81, level5=213, level4=181, level3=149, level2=117),
        flow_div=20.,
        corr_cfg=dict(type='Correlation', max_displacement=4, padding=0),
        warp_cfg=dict(type='Warp', align_corners=True, use_mask=True),
        act_cfg=dict(type='LeakyReLU', negative_slope=0.1),
        scaled=False,
        post_processor=dict(type='ContextNet', in_channels=565),
        flow_loss=dict(
            type='MultiLevelEPE',
            p=2,
            reduction='sum',
            weights={
                'level2': 0.005,
                'level3': 0.01,
                'level4': 0.02,
                'level5': 0.08,
                'level6': 0.32
            }),
    ),
    # model training and testing settings
    train_cfg=dict(),
    test_cfg=dict(),
    init_cfg=dict(
        type='Kaiming',
        nonlinearity='leaky_relu',
        layer=['Conv2d', 'ConvTranspose2d'],
        mode='fan_in',
        bias=0))

#: mmflow's decoder pyramid on the closed-form case: level -> (sum, sum of |.|).
MMFLOW_PYRAMID = {
    'level2': (775.9384155273438, 1933.3399658203125),
    'level3': (-227.13279724121094, 360.07708740234375),
    'level4': (-7.425506591796875, 24.835309982299805),
    'level5': (-0.05099651962518692, 0.5630163550376892),
    'level6': (-0.061696093529462814, 0.061696093529462814),
}
MMFLOW_LOSS = 10.968545913696289
#: mmflow's full-resolution flow (pixels): (y, x) -> (u, v), and the mean (u, v).
MMFLOW_FLOW = {
    (0, 0): (57.75811767578125, 109.74919128417969),
    (17, 40): (60.54633331298828, 69.61856842041016),
    (63, 63): (83.7254638671875, 48.937034606933594),
    (32, 5): (49.937225341796875, 55.22794723510742),
}
MMFLOW_FLOW_MEAN = (22.06660270690918, 38.5535774230957)


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return MODELS.build(copy.deepcopy(MMFLOW_PWCNET))


def _samples(batch, height, width):
    samples = []
    for _ in range(batch):
        sample = FlowDataSample()
        sample.gt_flow_fw = torch.randn(2, height, width) * 4
        samples.append(sample)
    return samples


def test_builds_from_mmflow_config(model):
    assert isinstance(model, PWCNet)
    assert isinstance(model.decoder, PWCNetDecoder)
    assert isinstance(model.decoder.flow_loss, MultiLevelEPE)
    assert model.decoder.max_displacement == 4
    assert model.size_divisor == 64
    # One parameter-free cost volume per decoded level, sized by its features.
    assert {k: v.channels for k, v in model.decoder.cost_volumes.items()} == dict(
        level2=32, level3=64, level4=96, level5=128, level6=196)
    assert not list(model.decoder.cost_volumes.parameters())


def test_state_dict_matches_mmflow(model):
    with open(KEYS_FILE) as f:
        expected = [line.strip() for line in f if line.strip()]
    ours = [f'{k} {tuple(v.shape)}' for k, v in model.state_dict().items()]
    assert ours == expected
    assert sum(p.numel() for p in model.parameters()) == 9_374_274


def test_parity_with_mmflow(model):
    state = copy.deepcopy(model.state_dict())
    model.load_state_dict(closed_form_state_dict(state), strict=True)
    imgs, gt = closed_form_inputs()
    outputs = []
    hook = model.decoder.register_forward_hook(
        lambda module, args, output: outputs.append(output))
    try:
        with torch.no_grad():
            flow = model(imgs, mode='tensor')[0]
            pyramid, = outputs
            loss = model.decoder.losses(pyramid, gt)['loss_flow']
    finally:
        hook.remove()
        model.load_state_dict(state)
    for level, (total, abs_total) in MMFLOW_PYRAMID.items():
        assert pyramid[level].sum().item() == pytest.approx(
            total, rel=1e-4, abs=1e-4)
        assert pyramid[level].abs().sum().item() == pytest.approx(
            abs_total, rel=1e-4, abs=1e-4)
    assert loss.item() == pytest.approx(MMFLOW_LOSS, rel=1e-5)
    for (y, x), uv in MMFLOW_FLOW.items():
        assert flow[:, y, x].tolist() == pytest.approx(uv, abs=1e-3)
    assert flow.mean(dim=(1, 2)).tolist() == pytest.approx(
        MMFLOW_FLOW_MEAN, abs=1e-3)


def test_loss_mode_and_gradients(model):
    model.train()
    model.zero_grad()
    inputs = torch.randn(1, 6, 64, 64)
    losses = model(inputs, _samples(1, 64, 64), mode='loss')
    assert set(losses) == {'loss_flow'}
    assert torch.isfinite(losses['loss_flow'])
    losses['loss_flow'].backward()
    for name, param in model.encoder.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    model.zero_grad()


def test_loss_mode_pads_ground_truth(model):
    # 40x72 is padded to 64x128: the pyramid is scored against padded ground
    # truth whose padding is invalid.
    model.train()
    losses = model(torch.randn(1, 6, 40, 72), _samples(1, 40, 72), mode='loss')
    assert torch.isfinite(losses['loss_flow'])


@pytest.mark.parametrize('size', [(64, 64), (50, 70)])
def test_predict_and_tensor_modes(model, size):
    model.eval()
    inputs = torch.randn(2, 6, *size)
    with torch.no_grad():
        flow = model(inputs, mode='tensor')
        samples = model(inputs, mode='predict')
    assert flow.shape == (2, 2) + size
    assert torch.isfinite(flow).all()
    assert len(samples) == 2
    for sample, sample_flow in zip(samples, flow):
        assert sample.pred_flow_fw.data.shape == (2, ) + size
        torch.testing.assert_close(sample.pred_flow_fw.data, sample_flow)


def test_local_correlation_peaks_at_displacement(model):
    torch.manual_seed(1)
    d, (dy, dx) = 4, (2, -3)
    feat1 = torch.randn(1, 196, 16, 20)
    # Image 2 holds image 1's content moved by (dx, dy): f2[y+dy, x+dx] = f1[y, x].
    feat2 = torch.roll(feat1, shifts=(dy, dx), dims=(2, 3))
    cost = model.decoder.cost_volumes['level6'].local(feat1, feat2, d)
    assert cost.shape == (1, (2 * d + 1)**2, 16, 20)
    interior = cost[..., d:-d, d:-d]
    assert (interior.argmax(dim=1) == (dy + d) * (2 * d + 1) + dx + d).all()
    torch.testing.assert_close(interior[:, (dy + d) * 9 + dx + d],
                               feat1.pow(2).sum(1)[..., d:-d, d:-d])

    # Warping image 2 back by the true flow aligns the pair: the (activated)
    # cost volume then peaks at zero displacement wherever the sample was inside.
    flow = torch.tensor([float(dx), float(dy)]).view(1, 2, 1, 1).expand(
        1, 2, 16, 20)
    warped = model.decoder.warp(feat2, flow)
    corr = model.decoder.correlate('level6', feat1, warped)
    assert (corr[..., d:-d, d:-d].argmax(dim=1) == d * 9 + d).all()


def test_warp_shift_and_mask():
    feat = torch.arange(2 * 5 * 6, dtype=torch.float32).view(1, 2, 5, 6)
    flow = torch.zeros(1, 2, 5, 6)
    flow[:, 0] = 1.  # sample one pixel to the right
    out = Warp(align_corners=True)(feat, flow)
    torch.testing.assert_close(out[..., :-1], feat[..., 1:])
    assert (out[..., -1] == 0).all()
    # Half a pixel: the last column's sample straddles the border. Zero padding
    # alone would return half its value; the mask drops it.
    flow[:, 0] = 0.5
    masked = Warp(align_corners=True, use_mask=True)(feat, flow)
    unmasked = Warp(align_corners=True, use_mask=False)(feat, flow)
    torch.testing.assert_close(masked[..., :-1],
                               (feat[..., :-1] + feat[..., 1:]) / 2)
    assert (masked[..., -1] == 0).all()
    torch.testing.assert_close(unmasked[..., -1], feat[..., -1] / 2)


class _LinearCostVolume(CostVolume):
    """A learnable per-level C x C transform, initialised to the identity."""

    def __init__(self, channels):
        super().__init__(channels)
        self.weight = torch.nn.Parameter(torch.eye(channels))

    def transform(self, feat):
        return torch.einsum('dc,bchw->bdhw', self.weight, feat)


def test_learnable_cost_volume_swaps_in_by_one_key(model):
    cfg = copy.deepcopy(MMFLOW_PWCNET)
    cfg['decoder']['cost_volume'] = dict(type=_LinearCostVolume)
    lcv = MODELS.build(cfg).eval()
    shapes = {
        k: tuple(v.shape)
        for k, v in lcv.state_dict().items() if 'cost_volumes' in k
    }
    assert shapes == {
        f'decoder.cost_volumes.level{i}.weight': (c, c)
        for i, c in zip(range(2, 7), (32, 64, 96, 128, 196))
    }
    # Every other weight loads from the vanilla model; at the identity the
    # learnable cost volume reproduces it.
    missing, unexpected = lcv.load_state_dict(model.state_dict(), strict=False)
    assert sorted(missing) == sorted(shapes) and not unexpected
    model.eval()
    inputs = torch.randn(1, 6, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            lcv(inputs, mode='tensor'), model(inputs, mode='tensor'))


def test_decoder_rejects_unsupported_correlation():
    cfg = copy.deepcopy(MMFLOW_PWCNET)
    cfg['decoder']['corr_cfg'] = dict(
        type='Correlation', max_displacement=4, stride=2)
    with pytest.raises(NotImplementedError, match='stride'):
        MODELS.build(cfg)
    decoder_cfg = copy.deepcopy(MMFLOW_PWCNET['decoder'])
    with pytest.raises(ValueError, match='feat_channels'):
        MODELS.build(decoder_cfg)


def test_multilevel_epe_by_hand():
    # One image of 2x2 pixels; u = 2, 4, 6, 8 and v = 0; flow_div = 2.
    gt = torch.tensor([[[2., 4.], [6., 8.]], [[0., 0.], [0., 0.]]])[None]
    preds = dict(
        coarse=torch.tensor([5.5, 4.]).view(1, 2, 1, 1),
        fine=torch.zeros(1, 2, 2, 2))
    weights = dict(coarse=0.5, fine=0.25)

    # Downsampled target: coarse = mean(u) / 2 = (2.5, 0) -> |(3, 4)| = 5;
    # fine = (1, 2, 3, 4) against zeros -> sum 10.
    loss = MultiLevelEPE(weights=weights, flow_div=2.)
    assert loss(preds, gt).item() == pytest.approx(0.5 * 5 + 0.25 * 10)
    # An invalid pixel leaves the coarse cell valid (max-pooled mask) but drops
    # from the fine level; reduction 'mean' divides by the valid pixel count.
    valid = torch.tensor([[[1., 1.], [1., 0.]]])
    assert loss(preds, gt, valid).item() == pytest.approx(0.5 * 5 + 0.25 * 6)
    mean = MultiLevelEPE(weights=weights, flow_div=2., reduction='mean')
    assert mean(preds, gt, valid).item() == pytest.approx(
        0.5 * 5 / 1 + 0.25 * 6 / 3, rel=1e-6)
    # max_flow drops |gt| >= 7 (the pixel with u = 8), only when a mask is given.
    capped = MultiLevelEPE(weights=weights, flow_div=2., max_flow=7.)
    assert capped(preds, gt).item() == pytest.approx(0.5 * 5 + 0.25 * 10)
    assert capped(preds, gt, torch.ones(1, 2, 2)).item() == pytest.approx(
        0.5 * 5 + 0.25 * 6)

    # Robust variant: (|u| + |v| + eps)^q with p = 1.
    robust = MultiLevelEPE(weights=weights, flow_div=2., p=1, q=0.4, eps=0.01)
    expected = 0.5 * 7.01**0.4 + 0.25 * sum((e + 0.01)**0.4
                                            for e in (1., 2., 3., 4.))
    assert robust(preds, gt).item() == pytest.approx(expected, rel=1e-6)

    # Upsampling: the 1x1 prediction becomes (5.5, 4) everywhere and is
    # compared with the full-resolution target (1, 2, 3, 4; 0).
    up = MultiLevelEPE(weights=weights, flow_div=2., resize_flow='upsample')
    coarse = sum(math.hypot(5.5 - u, 4.) for u in (1., 2., 3., 4.))
    assert up(preds, gt).item() == pytest.approx(
        0.5 * coarse + 0.25 * 10, rel=1e-6)

    # Non-finite ground truth is never counted.
    gt_nan = gt.clone()
    gt_nan[0, :, 1, 1] = float('nan')
    fine_only = MultiLevelEPE(weights=dict(fine=1.), flow_div=2.)
    assert fine_only(preds, gt_nan).item() == pytest.approx(1 + 2 + 3)


def test_reference_generator_matches_this_module():
    # The transcription of mmcv's kernel used for the constants agrees with the
    # local cost volume (an independent formulation) ...
    corr = _load_reference_module('correlation_cpu').CorrelationCPU(
        max_displacement=2)
    torch.manual_seed(2)
    feat1, feat2 = torch.randn(2, 1, 40, 5, 7).unbind(0)
    torch.testing.assert_close(
        corr(feat1, feat2).view(1, 25, 5, 7),
        CostVolume(40).local(feat1, feat2, 2))
    # ... and the generator reads back exactly the constants this test uses
    # (it imports its neighbours as make_reference.py's own folder).
    sys.path.insert(0, osp.join(DATA, 'pwcnet_reference'))
    try:
        reference = _load_reference_module('make_reference')
    finally:
        sys.path.pop(0)
    assert reference.test_constants(__file__) == dict(
        MMFLOW_PYRAMID=MMFLOW_PYRAMID, MMFLOW_LOSS=MMFLOW_LOSS,
        MMFLOW_FLOW=MMFLOW_FLOW, MMFLOW_FLOW_MEAN=MMFLOW_FLOW_MEAN)
