"""Converters of the official flow releases: LCV-RAFT (Prinsphield/LCV on
princeton-vl/RAFT) and FlowNAS (VDIGPKU/FlowNAS).

No official file can be downloaded here, so each test builds a state dict
with the official names and shapes, written down below from the official
model definitions (RAFT ``core/extractor.py``, ``core/update.py``; LCV
``corr.py``; FlowNAS ``core/flownas_extractor_supernet.py``,
``core/modules/dynamic_layers.py``, ``dynamic_ops.py`` and the ``ARCH_INFO``
of ``evaluate_supernet.py``), with random values.
"""
import math
import os.path as osp
import runpy
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F

from mmext.engine import build_model
from tests.conftest import REPO, load_tool, run_tool

LCV_TOOL = osp.join(REPO, 'tools', 'model_converters', 'lcv-raft_to_mmext.py')
FLOWNAS_TOOL = osp.join(REPO, 'tools', 'model_converters',
                        'flownas_to_mmext.py')
RAFT_LCV_CONFIG = osp.join(REPO, 'configs', 'lcv',
                           'raft-lcv_8xb2-100k_mixed-368x768.py')
RAFT_CONFIG = osp.join(REPO, 'configs', 'raft',
                       'raft_8xb2-100k_mixed-368x768.py')
FLOWNAS_K_CONFIG = osp.join(REPO, 'configs', 'flownas',
                            'flownas-raft-k_8xb2-50k_kitti2015-288x960.py')
FLOWNAS_S_CONFIG = osp.join(
    REPO, 'configs', 'flownas',
    'flownas-raft-s_8xb2-100k_flyingthings3d-sintel-368x768.py')

# ---------------------------------------------------------------------------
# The official names and shapes
# ---------------------------------------------------------------------------

#: RAFT's BasicUpdateBlock (core/update.py; FlowNAS has the same): name,
#: weight shape; every convolution has a bias.
OFFICIAL_UPDATE_BLOCK = [
    ('encoder.convc1', (256, 324, 1, 1)),  # 4 levels x 9 x 9 correlations
    ('encoder.convc2', (192, 256, 3, 3)),
    ('encoder.convf1', (128, 2, 7, 7)),
    ('encoder.convf2', (64, 128, 3, 3)),
    ('encoder.conv', (126, 256, 3, 3)),
    ('gru.convz1', (128, 384, 1, 5)),
    ('gru.convr1', (128, 384, 1, 5)),
    ('gru.convq1', (128, 384, 1, 5)),
    ('gru.convz2', (128, 384, 5, 1)),
    ('gru.convr2', (128, 384, 5, 1)),
    ('gru.convq2', (128, 384, 5, 1)),
    ('flow_head.conv1', (256, 128, 3, 3)),
    ('flow_head.conv2', (2, 256, 3, 3)),
    ('mask.0', (256, 128, 3, 3)),
    ('mask.2', (576, 256, 1, 1)),
]

#: RAFT's BasicEncoder (core/extractor.py): stem 7x7 3->64, then
#: (stage, block): (in, out, strided first block with downsample), then a
#: 1x1 conv 128->256. Feature encoder: InstanceNorm (no keys); context
#: encoder: BatchNorm2d.
OFFICIAL_RAFT_BLOCKS = [
    (1, 0, 64, 64, False), (1, 1, 64, 64, False),
    (2, 0, 64, 96, True), (2, 1, 96, 96, False),
    (3, 0, 96, 128, True), (3, 1, 128, 128, False),
]

#: FlowNAS's search space, ARCH_INFO of the official evaluate_supernet.py.
ARCH_INFO = dict(
    width=[[56, 64], [64, 72], [88, 96], [96, 104, 112], [112, 120, 128],
           [128, 136]],
    depth=[[1, 2], [1, 2, 3], [1, 2, 3], [1, 2, 3], [2, 3, 4], [1, 2]],
    kernel_size=[[3, 5]] * 6,
    expand_ratio=[[1], [1, 2, 4], [4, 5, 6], [4, 5, 6], [6], [6]],
    stride=[1, 1, 2, 1, 2, 1])

#: The released subnets (set_active_subnet in evaluate_supernet.py).
FLOWNAS_RAFT_K = dict(
    width=[64, 72, 88, 104, 120, 136], kernel_size=[3, 5, 3, 5, 5, 5],
    depth=[2, 1, 1, 2, 2, 1], expand_ratio=[1, 4, 6, 5, 6, 6])
FLOWNAS_RAFT_S = dict(
    width=[64, 72, 96, 104, 120, 136], kernel_size=[3, 3, 5, 3, 5, 5],
    depth=[2, 2, 2, 1, 2, 1], expand_ratio=[1, 2, 5, 5, 6, 6])


class Official:
    """Random tensors under official names."""

    def __init__(self, seed=0):
        self.gen = torch.Generator().manual_seed(seed)
        self.state = OrderedDict()

    def tensor(self, name, *shape):
        self.state[name] = torch.randn(*shape, generator=self.gen)

    def conv(self, name, shape, bias=True):
        # He-like scale, so that activations stay near 1 through the layers
        # and float32 comparisons stay meaningful.
        self.tensor(f'{name}.weight', *shape)
        self.state[f'{name}.weight'] /= math.prod(shape[1:])**.5
        if bias:
            self.tensor(f'{name}.bias', shape[0])

    def batch_norm(self, name, channels, affine=True):
        if affine:
            self.tensor(f'{name}.weight', channels)
            self.tensor(f'{name}.bias', channels)
        self.tensor(f'{name}.running_mean', channels)
        self.state[f'{name}.running_var'] = torch.rand(
            channels, generator=self.gen) + .5
        self.state[f'{name}.num_batches_tracked'] = torch.tensor(7)

    def update_block(self):
        for name, shape in OFFICIAL_UPDATE_BLOCK:
            self.conv(f'update_block.{name}', shape)


def official_raft(lcv_attr=None):
    """A RAFT (+ LearnableCorrBlock under ``lcv_attr``) state dict."""
    official = Official()
    for net, batch in (('fnet', False), ('cnet', True)):
        official.conv(f'{net}.conv1', (64, 3, 7, 7))
        if batch:
            official.batch_norm(f'{net}.norm1', 64)
        for stage, block, cin, cout, strided in OFFICIAL_RAFT_BLOCKS:
            name = f'{net}.layer{stage}.{block}'
            official.conv(f'{name}.conv1', (cout, cin, 3, 3))
            official.conv(f'{name}.conv2', (cout, cout, 3, 3))
            if batch:
                official.batch_norm(f'{name}.norm1', cout)
                official.batch_norm(f'{name}.norm2', cout)
            if strided:
                official.conv(f'{name}.downsample.0', (cout, cin, 1, 1))
                if batch:
                    official.batch_norm(f'{name}.downsample.1', cout)
                    # norm3 is downsample.1: the same tensors, two names.
                    for key in list(official.state):
                        if key.startswith(f'{name}.downsample.1.'):
                            official.state[key.replace(
                                'downsample.1', 'norm3')] = \
                                official.state[key]
        official.conv(f'{net}.conv2', (256, 128, 1, 1))
    official.update_block()
    if lcv_attr is not None:
        official.tensor(f'{lcv_attr}.raw_P', 256, 256)
        official.tensor(f'{lcv_attr}.raw_D', 256)
        official.state[f'{lcv_attr}.eye'] = torch.eye(256)
    return official.state


def official_flownas_supernet():
    """The official FlowNAS supernet state dict (``FlowNAS(args,
    ARCH_INFO)``), built as flownas_extractor_supernet.BasicEncoder builds
    its blocks: every stage at its largest depth, every op at its largest
    width and kernel; DynamicBatchNorm2d = ``bn`` + two affine-free
    ``bn_tracking`` BNs, DynamicInstanceNorm2d without keys."""
    official = Official()
    for net, batch in (('fnet', False), ('cnet', True)):
        def norm(name, channels):
            if batch:
                official.batch_norm(f'{name}.bn', channels)
                for i in (0, 1):
                    official.batch_norm(f'{name}.bn_tracking.{i}', channels,
                                        affine=False)

        official.conv(f'{net}.first_conv', (64, 3, 7, 7))
        if batch:
            official.batch_norm(f'{net}.norm1', 64)
        index, in_max = 0, 64
        for stage in range(6):
            out_max = max(ARCH_INFO['width'][stage])
            expand = max(ARCH_INFO['expand_ratio'][stage])
            kernel = max(ARCH_INFO['kernel_size'][stage])
            for _ in range(max(ARCH_INFO['depth'][stage])):
                block = f'{net}.blocks.{index}'
                conv = f'{block}.mobile_inverted_conv'
                mid = in_max * expand
                if expand != 1:
                    official.conv(f'{conv}.inverted_bottleneck.conv.conv',
                                  (mid, in_max, 1, 1), bias=False)
                    norm(f'{conv}.inverted_bottleneck.bn', mid)
                official.conv(f'{conv}.depth_conv.conv.conv',
                              (mid, 1, kernel, kernel), bias=False)
                norm(f'{conv}.depth_conv.bn', mid)
                official.conv(f'{conv}.point_linear.conv.conv',
                              (out_max, mid, 1, 1), bias=False)
                norm(f'{conv}.point_linear.bn', out_max)
                official.conv(f'{block}.shortcut.conv.conv',
                              (out_max, in_max, 1, 1), bias=False)
                index, in_max = index + 1, out_max
        official.conv(f'{net}.last_conv.point_linear.conv.conv',
                      (256, in_max, 1, 1), bias=False)
    official.update_block()
    return official.state


def official_subnet_encoder(state, net, arch, x_rgb):
    """The official supernet encoder ``net`` with ``arch`` active, in eval
    mode, on an RGB input: what ``BasicEncoder.forward`` computes through
    the dynamic ops (first channels, centre of the kernels, shortcut conv
    only where the widths differ)."""
    batch = net == 'cnet'

    def norm(x, name):
        if not batch:
            return F.instance_norm(x, eps=1e-5)
        n = x.shape[1]
        return F.batch_norm(x, state[f'{name}.running_mean'][:n],
                            state[f'{name}.running_var'][:n],
                            state[f'{name}.weight'][:n],
                            state[f'{name}.bias'][:n], False, 0., 1e-5)

    x = F.conv2d(x_rgb, state[f'{net}.first_conv.weight'],
                 state[f'{net}.first_conv.bias'], 2, 3)
    x = F.relu(norm(x, f'{net}.norm1'))
    first = 0
    for stage in range(6):
        width, depth, kernel, ratio = (arch[key][stage] for key in (
            'width', 'depth', 'kernel_size', 'expand_ratio'))
        crop = (max(ARCH_INFO['kernel_size'][stage]) - kernel) // 2
        for j in range(depth):
            block = f'{net}.blocks.{first + j}'
            conv = f'{block}.mobile_inverted_conv'
            cin = x.shape[1]
            stride = ARCH_INFO['stride'][stage] if j == 0 else 1
            mid = cin * ratio
            y = x
            if max(ARCH_INFO['expand_ratio'][stage]) != 1:
                w = state[f'{conv}.inverted_bottleneck.conv.conv.weight']
                y = F.relu(norm(F.conv2d(y, w[:mid, :cin]),
                                f'{conv}.inverted_bottleneck.bn.bn'))
            w = state[f'{conv}.depth_conv.conv.conv.weight']
            w = w[:mid, :, crop:crop + kernel, crop:crop + kernel]
            y = F.relu(norm(F.conv2d(y, w, None, stride, kernel // 2, 1, mid),
                            f'{conv}.depth_conv.bn.bn'))
            w = state[f'{conv}.point_linear.conv.conv.weight']
            y = norm(F.conv2d(y, w[:width, :mid]),
                     f'{conv}.point_linear.bn.bn')
            shortcut = x
            if stride > 1:
                shortcut = F.avg_pool2d(
                    shortcut, stride, padding=x.shape[-1] % 2)
            if cin != width:
                w = state[f'{block}.shortcut.conv.conv.weight']
                shortcut = F.conv2d(shortcut, w[:width, :cin])
            x = y + shortcut
        first += max(ARCH_INFO['depth'][stage])
    w = state[f'{net}.last_conv.point_linear.conv.conv.weight']
    return F.conv2d(x, w[:, :x.shape[1]])


def official_raft_encoder(state, net, x_rgb):
    """RAFT's BasicEncoder ``net`` in eval mode (core/extractor.py)."""

    def norm(x, name):
        if net == 'fnet':
            return F.instance_norm(x, eps=1e-5)
        return F.batch_norm(x, state[f'{name}.running_mean'],
                            state[f'{name}.running_var'],
                            state[f'{name}.weight'], state[f'{name}.bias'],
                            False, 0., 1e-5)

    def conv(x, name, stride=1, padding=1):
        return F.conv2d(x, state[f'{name}.weight'], state[f'{name}.bias'],
                        stride, padding)

    x = F.relu(norm(conv(x_rgb, f'{net}.conv1', 2, 3), f'{net}.norm1'))
    for stage, block, _, _, strided in OFFICIAL_RAFT_BLOCKS:
        name = f'{net}.layer{stage}.{block}'
        y = F.relu(norm(conv(x, f'{name}.conv1', 2 if strided else 1),
                        f'{name}.norm1'))
        y = F.relu(norm(conv(y, f'{name}.conv2'), f'{name}.norm2'))
        if strided:
            x = norm(conv(x, f'{name}.downsample.0', 2, 0),
                     f'{name}.downsample.1')
        x = F.relu(x + y)
    return conv(x, f'{net}.conv2', padding=0)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def load_exactly(model, state_dict):
    result = model.load_state_dict(state_dict, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []


@pytest.fixture(scope='module')
def lcv_tool():
    return load_tool(LCV_TOOL)


@pytest.fixture(scope='module')
def flownas_tool():
    return load_tool(FLOWNAS_TOOL)


@pytest.fixture(scope='module')
def supernet():
    return official_flownas_supernet()


def assert_one_line_error(result, key, dst):
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error:'), result.stderr
    assert key in lines[0] and '1 keys' in lines[0]
    assert not osp.exists(dst)


# ---------------------------------------------------------------------------
# LCV-RAFT
# ---------------------------------------------------------------------------


def test_lcv_raft_release_fits_raft_lcv_and_keeps_its_values(lcv_tool):
    official = official_raft(lcv_attr='corr_block')
    converted = lcv_tool.convert(official)
    model = build_model(RAFT_LCV_CONFIG)
    load_exactly(model, converted)

    # W = P^T D P from raw_P and raw_D as the official corr.py computes it.
    raw_P = official['corr_block.raw_P'].double()
    upper = torch.triu(raw_P)
    skew = (upper - upper.T) / 2
    eye = torch.eye(256, dtype=torch.float64)
    P = (eye + skew) @ torch.inverse(eye - skew)
    t = torch.atan(official['corr_block.raw_D'].double()) * 2 / torch.pi
    W = P.T @ torch.diag((1 + t) / (1 - t)) @ P
    with torch.no_grad():
        assert torch.allclose(model.decoder.cost_volume.metric(), W,
                              rtol=1e-9, atol=1e-9)

    # Both encoders (their stems read BGR here) give the official output.
    x_rgb = torch.randn(2, 3, 32, 40, generator=torch.Generator()
                        .manual_seed(1))
    with torch.no_grad():
        for net, encoder in (('fnet', model.encoder),
                             ('cnet', model.context)):
            assert torch.allclose(encoder(x_rgb.flip(1)),
                                  official_raft_encoder(official, net, x_rgb),
                                  rtol=1e-4, atol=1e-4), net
    assert torch.equal(model.context.res_layer2[0].downsample[1].running_var,
                       official['cnet.layer2.0.downsample.1.running_var'])
    assert torch.equal(model.decoder.gru.conv_q[1].conv.weight,
                       official['update_block.gru.convq2.weight'])
    assert torch.equal(model.decoder.encoder.corr_net[0].conv.weight,
                       official['update_block.encoder.convc1.weight'])


def test_converted_update_block_computes_the_official_update(lcv_tool):
    official = official_raft()
    model = build_model(RAFT_CONFIG)
    load_exactly(model, lcv_tool.convert(official))

    def conv(x, name, padding):
        return F.conv2d(x, official[f'update_block.{name}.weight'],
                        official[f'update_block.{name}.bias'], 1, padding)

    gen = torch.Generator().manual_seed(2)
    h, x, corr, flow = (torch.randn(1, c, 4, 5, generator=gen)
                        for c in (128, 256, 324, 2))
    # BasicMotionEncoder, SepConvGRU, FlowHead and the mask of update.py.
    cor = F.relu(conv(F.relu(conv(corr, 'encoder.convc1', 0)),
                      'encoder.convc2', 1))
    flo = F.relu(conv(F.relu(conv(flow, 'encoder.convf1', 3)),
                      'encoder.convf2', 1))
    motion = torch.cat(
        [F.relu(conv(torch.cat([cor, flo], 1), 'encoder.conv', 1)), flow], 1)
    gru_h = h
    for step, padding in ((1, (0, 2)), (2, (2, 0))):
        hx = torch.cat([gru_h, x], 1)
        z = torch.sigmoid(conv(hx, f'gru.convz{step}', padding))
        r = torch.sigmoid(conv(hx, f'gru.convr{step}', padding))
        q = torch.tanh(conv(torch.cat([r * gru_h, x], 1),
                            f'gru.convq{step}', padding))
        gru_h = (1 - z) * gru_h + z * q
    delta = conv(F.relu(conv(h, 'flow_head.conv1', 1)), 'flow_head.conv2', 1)
    mask = conv(F.relu(conv(h, 'mask.0', 1)), 'mask.2', 0)
    decoder = model.decoder
    with torch.no_grad():
        for got, expected in ((decoder.encoder(corr, flow), motion),
                              (decoder.gru(h, x), gru_h),
                              (decoder.flow_pred(h), delta),
                              (decoder.mask_pred(h), mask)):
            assert torch.allclose(got, expected, atol=1e-5)


def test_vanilla_raft_release_fits_the_vanilla_raft_config(lcv_tool):
    official = official_raft()
    converted = lcv_tool.convert(official)
    load_exactly(build_model(RAFT_CONFIG), converted)
    assert torch.equal(converted['decoder.mask_pred.predict_layer.bias'],
                       official['update_block.mask.2.bias'])


def test_lcv_cli_names_the_unmapped_key(tmp_path, python):
    official = official_raft(lcv_attr='corr_block')
    official['update_block.gru.convw1.weight'] = torch.zeros(1)
    src, dst = tmp_path / 'raft-lcv.pth', tmp_path / 'out.pth'
    torch.save({'model': official}, src)
    result = run_tool(python, LCV_TOOL, src, dst)
    assert_one_line_error(result, 'update_block.gru.convw1.weight', dst)


# ---------------------------------------------------------------------------
# FlowNAS
# ---------------------------------------------------------------------------


@pytest.mark.parametrize('config,arch', [(FLOWNAS_K_CONFIG, FLOWNAS_RAFT_K),
                                         (FLOWNAS_S_CONFIG, FLOWNAS_RAFT_S)])
def test_flownas_release_gives_the_official_subnet(flownas_tool, supernet,
                                                   config, arch):
    converted = flownas_tool.convert(supernet, config)
    model = build_model(config)
    load_exactly(model, converted)

    # Both encoders compute what the official supernet computes with the
    # subnet active (even sizes at every stride).
    x_rgb = torch.randn(2, 3, 32, 48, generator=torch.Generator()
                        .manual_seed(1))
    with torch.no_grad():
        for net, encoder in (('fnet', model.encoder),
                             ('cnet', model.context)):
            expected = official_subnet_encoder(supernet, net, arch, x_rgb)
            assert torch.allclose(encoder(x_rgb.flip(1)), expected,
                                  rtol=1e-4, atol=1e-4), net
    assert torch.equal(model.decoder.flow_pred.predict_layer.weight,
                       supernet['update_block.flow_head.conv2.weight'])


def test_flownas_kernel_crop_and_stem_bias_fold(flownas_tool, supernet):
    converted = flownas_tool.convert(supernet, FLOWNAS_K_CONFIG)
    # FlowNAS-RAFT-K stage 3: its first block is the supernet's blocks.5
    # (after 2 + 3 blocks); kernel 3 is the centre of the supernet's 5.
    official = supernet[
        'cnet.blocks.5.mobile_inverted_conv.depth_conv.conv.conv.weight']
    assert official.shape == (432, 1, 5, 5)
    assert torch.equal(
        converted['context.layer3.0.depthwise_conv.conv.weight'],
        official[:, :, 1:4, 1:4])
    assert torch.equal(
        converted['context.stem.bn.running_mean'],
        supernet['cnet.norm1.running_mean'] - supernet['cnet.first_conv.bias'])
    assert 'encoder.stem.conv.bias' not in converted


def test_flownas_refuses_a_subnet_mmext_cannot_compute(flownas_tool, supernet,
                                                       tmp_path):
    from mmext.model_converters import ConversionError
    config = tmp_path / 'flownas-e1.py'
    config.write_text(
        f'_base_ = [{FLOWNAS_K_CONFIG!r}]\n'
        'model = dict(encoder=dict(expand_ratios=[1, 1, 6, 5, 6, 6]),\n'
        '             cxt_encoder=dict(expand_ratios=[1, 1, 6, 5, 6, 6]))\n')
    with pytest.raises(ConversionError, match='stage 2 has expand ratio 1'):
        flownas_tool.convert(supernet, str(config))


def run_in_process(tool, argv, monkeypatch):
    """Run a converter script as ``__main__`` in this process (a subprocess
    spends 10-20 s importing mmext; the LCV test pays that once)."""
    monkeypatch.setattr(sys, 'argv', [tool] + [str(a) for a in argv])
    runpy.run_path(tool, run_name='__main__')


def test_flownas_cli(tmp_path, supernet, monkeypatch, capsys):
    src, dst = tmp_path / 'FlowNAS-RAFT-K.pth', tmp_path / 'out' / 'k.pth'
    # The release as DataParallel saved it.
    torch.save(OrderedDict(('module.' + k, v) for k, v in supernet.items()),
               src)
    run_in_process(FLOWNAS_TOOL, [src, dst, '--config', FLOWNAS_K_CONFIG],
                   monkeypatch)
    saved = torch.load(dst, weights_only=True)['state_dict']
    load_exactly(build_model(FLOWNAS_K_CONFIG), saved)

    bad = dst.with_name('bad.pth')
    torch.save({'fnet.blocks.17.shortcut.conv.conv.weight': torch.zeros(1),
                **supernet}, src)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_in_process(FLOWNAS_TOOL, [src, bad, '--config', FLOWNAS_K_CONFIG],
                       monkeypatch)
    result = subprocess.CompletedProcess([], exit_info.value.code, '',
                                         capsys.readouterr().err)
    assert_one_line_error(result, 'fnet.blocks.17.shortcut.conv.conv.weight',
                          bad)
