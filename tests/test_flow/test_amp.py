"""Mixed precision for flow models: fp32 islands in RAFT, bf16 training."""
import copy

import torch
from mmengine.optim import build_optim_wrapper
from mmengine.runner.amp import autocast

from mmext.flow.amp import BF16OptimWrapper
from tests.test_flow.test_raft import MMFLOW_RAFT, build, shifted_pair


def raft(memory_efficient=False):
    cfg = copy.deepcopy(MMFLOW_RAFT)
    cfg['decoder']['corr_op_cfg'] = dict(
        type='CorrLookup', memory_efficient=memory_efficient)
    return build(cfg).eval()


def test_bf16_flow_stays_close_to_fp32_with_fp32_islands():
    """Fixed input and weights. Stated tolerance: mean end-point difference
    below 3% of the mean flow magnitude (measured: 0.11 of 29 px). The
    lookup's output, the GRU's state (it starts from the fp32 encoders) and
    the flow are fp32 while the decoder's convolutions run in bf16."""
    model = raft()
    imgs = shifted_pair(64, 64)
    seen = {}

    def record(name):

        def hook(module, args, out):
            seen[name] = out.dtype

        return hook

    model.decoder.corr_lookup.register_forward_hook(record('lookup'))
    model.decoder.gru.register_forward_hook(record('gru'))
    model.decoder.gru.conv_z[0].register_forward_hook(record('gru_conv'))
    with torch.no_grad():
        fp32 = model(imgs)
        with autocast(device_type='cpu', enabled=True):
            bf16 = model(imgs)
    assert seen == dict(
        lookup=torch.float32, gru=torch.float32, gru_conv=torch.bfloat16)
    assert bf16.dtype == torch.float32
    magnitude = fp32.norm(dim=1).mean()
    assert magnitude > .5
    difference = (bf16 - fp32).norm(dim=1).mean()
    assert 0 < difference < .03 * magnitude


def test_encoders_run_in_fp32_under_autocast_unless_asked_not_to():
    """Their features equal fp32's exactly (the decoder alone is mixed);
    with ``fp32_encoders=False`` they are bf16 and differ."""
    model = raft()
    imgs = shifted_pair(64, 64)
    with torch.no_grad():
        fp32 = model.extract_feat(imgs)
        with autocast(device_type='cpu', enabled=True):
            kept = model.extract_feat(imgs)
            model.fp32_encoders = False
            mixed = model.extract_feat(imgs)
    for reference, feat_kept, feat_mixed in zip(fp32, kept, mixed):
        assert torch.equal(feat_kept, reference)
        assert feat_mixed.dtype == torch.bfloat16
        assert not torch.equal(feat_mixed.float(), reference)


def test_correlation_and_upsampling_are_fp32_under_autocast():
    """Under autocast they compute exactly what fp32 computes from the same
    (bf16) inputs; without the islands the matmuls would run in bf16."""
    torch.manual_seed(0)
    feat1, feat2 = (torch.randn(1, 256, 8, 12).bfloat16() for _ in range(2))
    flow = torch.randn(1, 2, 8, 12) * 3
    mask = torch.randn(1, 9 * 64, 8, 12).bfloat16()
    for efficient in (False, True):
        decoder = raft(efficient).decoder
        with torch.no_grad():
            reference = decoder.corr_lookup(
                decoder.correlation(feat1.float(), feat2.float()), flow)
            up_reference = decoder._upsample(flow, mask.float())
            with autocast(device_type='cpu', enabled=True):
                pyramid = decoder.correlation(feat1, feat2)
                up = decoder._upsample(flow, mask)
            corr = decoder.corr_lookup(pyramid, flow)
        assert up.dtype == torch.float32
        assert torch.equal(corr, reference)
        assert torch.equal(up, up_reference)


def test_bf16_optim_wrapper_trains_in_bf16_with_fp32_state():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    wrapper = build_optim_wrapper(
        model,
        dict(
            type='BF16OptimWrapper',
            optimizer=dict(type='SGD', lr=.1)))
    assert isinstance(wrapper, BF16OptimWrapper)
    x = torch.randn(2, 3, 8, 8)
    weight = model[0].weight.detach().clone().requires_grad_()
    # The gradient of the same forward written out under bf16 autocast.
    with torch.autocast('cpu', dtype=torch.bfloat16):
        reference = torch.nn.functional.conv2d(x, weight,
                                               model[0].bias.detach()).relu()
    reference.float().square().mean().backward()
    with wrapper.optim_context(model):
        out = model(x)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, reference)
    wrapper.update_params(out.float().square().mean())
    assert model[0].weight.dtype == torch.float32
    torch.testing.assert_close(model[0].weight,
                               weight.detach() - .1 * weight.grad)
