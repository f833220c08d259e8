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
from mmengine.config import Config

from mmext.checkpoint import load_local_checkpoint
from mmext.flow.models import DotProductCostVolume, LearnableCostVolume
from mmext.registry import MODELS
from tests.conftest import REPO
from tests.test_flow.test_cost_volume import brute_force_local
from tests.test_flow.test_pwcnet import MMFLOW_PWCNET
from tests.test_flow.test_raft import MMFLOW_RAFT, SMALL_RAFT, read_spec

C = 6
LCV_KEYS = ['decoder.cost_volume.raw_A', 'decoder.cost_volume.raw_D']


def with_lcv(cfg):
    """The model config with its cost volume switched to LCV (the one key)."""
    cfg = copy.deepcopy(cfg)
    cfg['decoder']['cost_volume'] = dict(type='LCV')
    return cfg


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


def test_gradients_reach_the_parameters(feats):
    lcv = LearnableCostVolume(C)
    (lcv.all_pairs(*feats).square().sum() + lcv.local(*feats, 1).sum()
     ).backward()
    upper = torch.triu(torch.ones(C, C, dtype=torch.bool), diagonal=1)
    # Only the strict upper triangle of raw_A enters S.
    assert (lcv.raw_A.grad[upper] != 0).all()
    assert (lcv.raw_A.grad[~upper] == 0).all()
    assert (lcv.raw_D.grad != 0).all()


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


@pytest.mark.parametrize('path', LCV_CONFIGS, ids=osp.basename)
def test_lcv_configs_change_only_the_cost_volume(path):
    with open(path) as f:
        tree = ast.parse(f.read())
    bases = [ast.literal_eval(node.value) for node in tree.body
             if isinstance(node, ast.Assign)
             and node.targets[0].id == '_base_']
    assert len(bases) == 1 and len(bases[0]) == 1
    cfg = Config.fromfile(path)
    base = Config.fromfile(osp.join(osp.dirname(path), bases[0][0]))
    assert cfg.model.decoder.pop('cost_volume') == dict(
        type='LearnableCostVolume')
    base.model.decoder.pop('cost_volume', None)
    assert cfg.to_dict() == base.to_dict()


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
