"""LCV: the learnable cost volume, its drop-in use in RAFT / PWC-Net, its
configs and the robustness tool."""
import ast
import contextlib
import copy
import glob
import importlib.util
import io
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmext.checkpoint import load_local_checkpoint
from mmext.flow.models import DotProductCostVolume, LearnableCostVolume
from mmext.flow.models.cost_volumes import CostVolume
from mmext.registry import MODELS
from tests.conftest import REPO
from tests.test_flow.test_cost_volume import brute_force_local
from tests.test_flow.test_pwcnet import (MMFLOW_PWCNET, closed_form_inputs,
                                         closed_form_state_dict)
from tests.test_flow.test_raft import MMFLOW_RAFT, SMALL_RAFT, read_spec

C = 6
LCV_KEYS = ['decoder.cost_volume.raw_A', 'decoder.cost_volume.raw_D']


def with_lcv(cfg, cost_volume='LCV'):
    """The model config with its cost volume switched to LCV (the one key)."""
    cfg = copy.deepcopy(cfg)
    cfg['decoder']['cost_volume'] = dict(type=cost_volume)
    return cfg


def paper_factors(raw_A, raw_D):
    """``P`` and the diagonal of ``D`` (float64) written as the paper writes
    them, with an explicit inverse: ``P = (I + S)(I - S)^-1``."""
    A = raw_A.double()
    S = (torch.triu(A) - torch.triu(A).T) / 2
    eye = torch.eye(len(A), dtype=A.dtype)
    t = torch.atan(raw_D.double()) * 2 / math.pi
    return (eye + S) @ torch.linalg.inv(eye - S), (1 + t) / (1 - t)


class ReferenceLCV(CostVolume):
    """``f1^T W f2`` with ``W = P^T D P`` from :func:`paper_factors`, computed
    directly in float64 (no feature transform, no shared solve; the local
    volume by unfolding, not by shifting), with the parameters of
    :class:`LearnableCostVolume` so that its state dict loads."""

    def __init__(self, channels):
        super().__init__(channels)
        self.raw_A = torch.nn.Parameter(torch.eye(channels))
        self.raw_D = torch.nn.Parameter(torch.zeros(channels))

    def metric(self):
        P, d = paper_factors(self.raw_A, self.raw_D)
        return P.T @ torch.diag(d) @ P

    def all_pairs(self, feat1, feat2):
        corr = torch.einsum('bcij,cd,bdkl->bijkl', feat1.double(),
                            self.metric(), feat2.double())
        return (corr / math.sqrt(self.channels)).to(feat1.dtype)

    def local(self, feat1, feat2, max_displacement):
        B, C, H, W = feat1.shape
        k = 2 * max_displacement + 1
        windows = F.unfold(feat2.double(), k, padding=max_displacement)
        corr = torch.einsum('bcp,cd,bdkp->bkp',
                            feat1.double().flatten(2), self.metric(),
                            windows.view(B, C, k * k, H * W))
        return corr.view(B, k * k, H, W).to(feat1.dtype)


def randomise_lcvs(model, scale_A=0.3):
    """Move every LCV of ``model`` away from the identity (seeded)."""
    lcvs = [m for m in model.modules() if isinstance(m, LearnableCostVolume)]
    assert lcvs
    for i, lcv in enumerate(lcvs):
        generator = torch.Generator().manual_seed(i)
        with torch.no_grad():
            lcv.raw_A.add_(scale_A * torch.randn(
                lcv.raw_A.shape, generator=generator))
            lcv.raw_D.copy_(torch.randn(lcv.raw_D.shape, generator=generator))
    return model


def randomised(channels, scale_A=1., raw_D=None, seed=0):
    """An LCV whose parameters moved away from the identity, as in training."""
    torch.manual_seed(seed)
    lcv = LearnableCostVolume(channels)
    with torch.no_grad():
        lcv.raw_A.add_(scale_A * torch.randn(channels, channels))
        lcv.raw_D.copy_(torch.randn(channels) if raw_D is None else raw_D)
    return lcv


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """The tensors here are tiny: one intra-op thread is fastest, and it avoids
    the spin-waits that cost seconds per forward on an oversubscribed CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def feats():
    torch.manual_seed(1)
    return torch.randn(2, C, 4, 5), torch.randn(2, C, 4, 5)


def test_registered_under_both_names():
    for name in ('LearnableCostVolume', 'LCV'):
        lcv = MODELS.build(dict(type=name, channels=C))
        assert isinstance(lcv, LearnableCostVolume)
        assert {k: tuple(v.shape) for k, v in lcv.state_dict().items()} == {
            'raw_A': (C, C), 'raw_D': (C, )}


@pytest.mark.parametrize('scale_A, raw_D', [
    (1., None),
    (1e3, torch.tensor([1e6, -1e6] * (C // 2))),
    (1e3, torch.tensor([float('inf'), -float('inf'), 1e30, -1e30, 0., 1e16])),
])
def test_W_is_spd_and_P_orthogonal(scale_A, raw_D):
    lcv = randomised(C, scale_A, raw_D)
    P, d = lcv.factors()
    eye = torch.eye(C, dtype=torch.float64)
    torch.testing.assert_close(P.T @ P, eye, rtol=0, atol=1e-12)
    assert torch.isfinite(d).all() and (d > 0).all()
    W = lcv.metric()
    # Rounding is relative to the largest entry (D may span 33 decades).
    atol = 1e-12 * W.abs().max().item()
    torch.testing.assert_close(W, W.T, rtol=0, atol=atol)
    if d.max() / d.min() < 1e14:  # else float64 cannot resolve the smallest
        eigenvalues = torch.linalg.eigvalsh(W)
        assert (eigenvalues > 0).all()
        torch.testing.assert_close(eigenvalues, d.sort().values, rtol=1e-6,
                                   atol=atol)
    # W = M^T M with M = sqrt(D) P nonsingular: positive definite at any D.
    M = lcv.transform_matrix()
    torch.testing.assert_close(M.T @ M, W, rtol=0, atol=atol)


def test_clamp_is_inactive_below_saturation():
    lcv = randomised(3, raw_D=torch.tensor([1e6, -1e6, 1e3]))
    t = torch.atan(lcv.raw_D.double()) * 2 / math.pi
    torch.testing.assert_close(lcv.factors()[1], (1 + t) / (1 - t),
                               rtol=0, atol=0)


def test_identity_at_init_equals_vanilla_exactly(feats):
    lcv, vanilla = LearnableCostVolume(C), DotProductCostVolume(C)
    P, d = lcv.factors()
    assert torch.equal(P, torch.eye(C, dtype=torch.float64))
    assert torch.equal(d, torch.ones(C, dtype=torch.float64))
    assert torch.equal(lcv.all_pairs(*feats), vanilla.all_pairs(*feats))
    assert torch.equal(lcv.local(*feats, 2), vanilla.local(*feats, 2))


@pytest.mark.parametrize('base', [SMALL_RAFT, MMFLOW_PWCNET],
                         ids=['RAFT', 'PWCNet'])
def test_whole_model_equals_vanilla_at_init(base):
    torch.manual_seed(0)
    vanilla = MODELS.build(copy.deepcopy(base)).eval()
    lcv = MODELS.build(with_lcv(base)).eval()
    missing, unexpected = lcv.load_state_dict(
        vanilla.state_dict(), strict=False)
    assert unexpected == []
    assert missing and all(k.endswith(('.raw_A', '.raw_D')) for k in missing)
    inputs = torch.rand(1, 6, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(lcv(inputs), vanilla(inputs))


def _grads(cost_volume, feat1, feat2):
    cost_volume.zero_grad()
    (cost_volume.all_pairs(feat1, feat2).square().sum() +
     cost_volume.local(feat1, feat2, 1).sin().sum()).backward()
    return cost_volume.raw_A.grad.clone(), cost_volume.raw_D.grad.clone()


def test_gradients_equal_the_paper_formula(feats):
    # Away from the identity (D != I, S != 0), in float64; the reference
    # differentiates the paper's explicit inverse and the direct f1^T W f2.
    feat1, feat2 = (f.double() for f in feats)
    lcv = randomised(C, scale_A=0.5).double()
    reference = ReferenceLCV(C).double()
    reference.load_state_dict(lcv.state_dict())
    grad_A, grad_D = _grads(lcv, feat1, feat2)
    ref_A, ref_D = _grads(reference, feat1, feat2)
    torch.testing.assert_close(grad_A, ref_A, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(grad_D, ref_D, rtol=1e-9, atol=1e-9)
    upper = torch.triu(torch.ones(C, C, dtype=torch.bool), diagonal=1)
    # Only the strict upper triangle of raw_A enters S.
    assert (grad_A[upper].abs() > 1e-3).all()
    assert (grad_A[~upper] == 0).all()
    assert (grad_D.abs() > 1e-3).all()


def test_A_gradient_vanishes_only_where_D_is_the_identity(feats):
    # With D = I, W = P^T P = I for every orthogonal P: the loss does not
    # depend on A, so a test of the A-gradient must run at D != I.
    feat1, feat2 = (f.double() for f in feats)
    lcv = randomised(C, scale_A=0.5, raw_D=torch.zeros(C)).double()
    grad_A, grad_D = _grads(lcv, feat1, feat2)
    assert grad_A.abs().max() < 1e-9 < grad_D.abs().min()


def _pwcnet_with_flows_of_tens_of_pixels(cfg):
    model = MODELS.build(cfg).eval()
    vanilla_keys = MODELS.build(copy.deepcopy(MMFLOW_PWCNET)).state_dict()
    model.load_state_dict(closed_form_state_dict(vanilla_keys), strict=False)
    return model


@pytest.mark.parametrize('base', [SMALL_RAFT, MMFLOW_PWCNET],
                         ids=['RAFT', 'PWCNet'])
def test_randomised_lcv_is_the_cost_volume_used(base):
    """A trained LCV changes the flow, and the model computes exactly the
    paper's f1^T W f2 (a model with :class:`ReferenceLCV` and the same
    parameters gives the same flow)."""
    if base is MMFLOW_PWCNET:
        build = _pwcnet_with_flows_of_tens_of_pixels
        inputs = closed_form_inputs()[0]
    else:
        build = MODELS.build
        torch.manual_seed(0)
        inputs = torch.rand(1, 6, 64, 64) * 2 - 1
    torch.manual_seed(0)
    vanilla = build(copy.deepcopy(base)).eval()
    lcv = MODELS.build(with_lcv(base)).eval()
    lcv.load_state_dict(vanilla.state_dict(), strict=False)
    randomise_lcvs(lcv)
    reference = MODELS.build(with_lcv(base, ReferenceLCV)).eval()
    reference.load_state_dict(lcv.state_dict(), strict=True)
    with torch.no_grad():
        flow, flow_vanilla, flow_reference = (
            m(inputs, mode='tensor') for m in (lcv, vanilla, reference))
    scale = flow_vanilla.abs().mean()
    assert scale > 0.1
    assert (flow - flow_vanilla).abs().mean() > 0.1 * scale
    torch.testing.assert_close(flow, flow_reference, rtol=1e-4,
                               atol=1e-4 * scale)


def test_raft_lcv_is_the_vanilla_encoder_with_its_projection_reparametrised():
    """RAFT's feature encoder ends in a linear 1x1 convolution, so sqrt(D) P
    folds into it: vanilla RAFT with that convolution multiplied by sqrt(D) P
    computes RAFT-LCV's flow (see configs/lcv/README.md)."""
    torch.manual_seed(0)
    lcv = randomise_lcvs(MODELS.build(with_lcv(SMALL_RAFT))).eval()
    folded = MODELS.build(copy.deepcopy(SMALL_RAFT)).eval()
    state = {k: v for k, v in lcv.state_dict().items()
             if 'cost_volume' not in k}
    P, d = paper_factors(lcv.decoder.cost_volume.raw_A,
                         lcv.decoder.cost_volume.raw_D)
    M = d.sqrt()[:, None] * P
    weight = state['encoder.conv2.weight']
    state['encoder.conv2.weight'] = (M @ weight.double().flatten(1)).view(
        weight.shape).float()
    state['encoder.conv2.bias'] = (M @ state['encoder.conv2.bias'].double()
                                   ).float()
    folded.load_state_dict(state, strict=True)
    inputs = torch.rand(1, 6, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(
            lcv(inputs, mode='tensor'), folded(inputs, mode='tensor'),
            rtol=1e-4, atol=1e-4)


def test_cheap_form_equals_direct_computation(feats):
    lcv = randomised(C, scale_A=0.3).double()
    feat1, feat2 = (f.double() for f in feats)
    W = lcv.metric()
    direct = torch.einsum('bcij,cd,bdkl->bijkl', feat1, W, feat2) / math.sqrt(C)
    torch.testing.assert_close(lcv.all_pairs(feat1, feat2), direct)
    # local(): the plain channel sum of f1^T W f2 over each neighbourhood.
    direct_local = brute_force_local(
        torch.einsum('cd,bcij->bdij', W, feat1).float(), feat2.float(), 1)
    torch.testing.assert_close(
        lcv.local(feat1, feat2, 1).float(), direct_local)


def test_one_solve_per_correlation(feats, monkeypatch):
    lcv = randomised(C)
    calls = []
    solve = torch.linalg.solve_ex
    monkeypatch.setattr(torch.linalg, 'solve_ex',
                        lambda *a: calls.append(1) or solve(*a))
    lcv.all_pairs(*feats)
    lcv.local(*feats, 1)
    assert len(calls) == 2
    assert lcv._shared_matrix is None


def test_mmflow_raft_checkpoint_loads_with_only_lcv_keys_missing(tmp_path):
    lcv = MODELS.build(with_lcv(MMFLOW_RAFT))
    spec = [name for name, _ in read_spec()]
    assert sorted(lcv.state_dict()) == sorted(spec + LCV_KEYS)
    vanilla = MODELS.build(copy.deepcopy(MMFLOW_RAFT))
    path = tmp_path / 'raft.pth'
    torch.save(dict(meta={}, state_dict=vanilla.state_dict()), path)
    state = load_local_checkpoint(str(path))['state_dict']
    missing, unexpected = lcv.load_state_dict(state, strict=False)
    assert (sorted(missing), unexpected) == (LCV_KEYS, [])
    assert torch.equal(lcv.decoder.cost_volume.transform_matrix(),
                       torch.eye(256, dtype=torch.float64))


LCV_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'lcv', '*.py')))


def vanilla_base(path):
    """The path of the one vanilla config an LCV config inherits."""
    with open(path) as f:
        tree = ast.parse(f.read())
    bases = [ast.literal_eval(node.value) for node in tree.body
             if isinstance(node, ast.Assign)
             and node.targets[0].id == '_base_']
    assert len(bases) == 1 and len(bases[0]) == 1
    return osp.normpath(osp.join(osp.dirname(path), bases[0][0]))


@pytest.mark.parametrize('path', LCV_CONFIGS, ids=osp.basename)
def test_lcv_configs_change_only_the_cost_volume_and_start(path):
    cfg = Config.fromfile(path)
    base = Config.fromfile(vanilla_base(path))
    assert cfg.model.decoder.pop('cost_volume') == dict(
        type='LearnableCostVolume')
    base.model.decoder.pop('cost_volume', None)
    # A stage starts from weights exactly where its vanilla recipe does.
    assert (cfg.pop('load_from') is None) == (base.pop('load_from') is None)
    assert cfg.to_dict() == base.to_dict()


def _mmflow_name(config_name):
    """mmflow's spelling of a config name: raft_8x2_100k_mixed_368x768."""
    return config_name.replace('xb', 'x').replace('-', '_')


def test_later_lcv_stages_continue_from_the_previous_lcv_stage():
    """Each vanilla stage loads mmflow's checkpoint of the previous vanilla
    stage; the LCV stage must load the last checkpoint of the LCV config
    built on that previous vanilla stage, where tools/train.py writes it."""
    from mmext.engine import set_work_dir
    by_vanilla = {
        osp.splitext(osp.basename(vanilla_base(p)))[0]: p
        for p in LCV_CONFIGS
    }
    later_stages = 0
    for path in LCV_CONFIGS:
        vanilla_from = Config.fromfile(vanilla_base(path)).load_from
        load_from = Config.fromfile(path).load_from
        if vanilla_from is None:
            assert load_from is None, path
            continue
        later_stages += 1
        stem = osp.splitext(osp.basename(vanilla_from))[0]
        previous, = [p for name, p in by_vanilla.items()
                     if _mmflow_name(name).startswith(stem)]
        previous_cfg = Config.fromfile(previous)
        set_work_dir(previous_cfg, None, previous)
        expected = osp.join(previous_cfg.work_dir,
                            f'iter_{previous_cfg.train_cfg.max_iters}.pth')
        assert osp.normpath(load_from) == osp.normpath(expected), path
    assert later_stages == 5


# ---------------------------------------------------------------------------
# The robustness tool, in process on a tiny model and FlyingShapes
# ---------------------------------------------------------------------------

TINY_CONFIG = """
default_scope = 'mmext'
model = {model!r}
test_dataloader = dict(dataset=dict(
    type='FlyingShapes', num_samples=1, split='val', img_size=(64, 64),
    pipeline=[dict(type='PackFlowInputs')]))
"""


def load_tool():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'flow_robustness.py')
    spec = importlib.util.spec_from_file_location('flow_robustness', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def robustness_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('robustness')
    args = []
    for name, cfg in (('raft', SMALL_RAFT), ('raft-lcv', with_lcv(SMALL_RAFT))):
        torch.manual_seed(0)
        model = MODELS.build(copy.deepcopy(cfg))
        (tmp / f'{name}.py').write_text(TINY_CONFIG.format(model=cfg))
        torch.save(model.state_dict(), tmp / f'{name}.pth')
        args += [str(tmp / f'{name}.py'), str(tmp / f'{name}.pth')]
    tool = load_tool()
    argv = args[:2] + ['--compare'] + args[2:] + [
        '--eps', '8', '--pgd-steps', '2', '--pgd-step-size', '4'
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        results = tool.main(argv)
    return tool, results, out.getvalue()


def test_robustness_tool_prints_every_condition(robustness_run):
    tool, results, table = robustness_run
    assert list(results) == ['raft', 'raft-lcv']
    for per_model in results.values():
        assert list(per_model) == list(tool.CONDITIONS)
        for scores in per_model.values():
            assert set(scores) == {'EPE', 'Fl'}
            assert math.isfinite(scores['EPE'])
    # At init RAFT-LCV is RAFT: same scores under every input-only condition.
    assert results['raft'] == results['raft-lcv']
    for condition in tool.CONDITIONS:
        assert f'| {condition} |' in table
    assert 'EPE raft-lcv' in table


def test_attacks_increase_epe(robustness_run):
    _, results, _ = robustness_run
    for per_model in results.values():
        assert per_model['fgsm']['EPE'] > per_model['clean']['EPE']
        assert per_model['pgd']['EPE'] > per_model['clean']['EPE']


def test_perturbations_stay_in_range():
    tool = load_tool()
    torch.manual_seed(0)
    pair = torch.rand(1, 6, 8, 8) * 255
    lit = tool.illumination(pair, 0.7, 1.4, 20.)
    assert torch.equal(lit[:, :3], pair[:, :3])
    noisy = tool.gaussian_noise(pair, 8., seed=3)
    assert torch.equal(noisy, tool.gaussian_noise(pair, 8., seed=3))
    adv = tool.sign_gradient_attack(pair, lambda x: x.square().sum(), 2., 3,
                                    1.)
    for out in (lit, noisy, adv):
        assert out.min() >= 0 and out.max() <= 255
    assert (adv - pair).abs().max() <= 2 + 1e-4
