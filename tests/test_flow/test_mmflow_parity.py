"""Numerical parity of mmext's RAFT with mmflow 0.5.2's own RAFT.

The reference numbers come from mmflow itself, recorded once into the fixture
``tests/data/raft_reference`` by ``make_reference.py`` (run in a separate mmflow 0.5.2
venv; its docstring says how to build that venv and rerun). This test never imports
mmflow. Both sides use the same closed-form weights (``formula.py``) and the same PNG
files, so any difference is a difference of the implementations:

* the model is built from mmflow's own config dict (``model_cfg.json``, written out by
  ``make_reference.py`` from ``configs/raft/raft_8x2_100k_flyingchairs_368x496.py``),
  with mmext's ``FlowDataPreprocessor`` set from the config's ``img_norm_cfg``;
* the weights go through mmengine's ``load_checkpoint`` as a
  ``{'meta', 'state_dict'}`` file, strictly (no missing or unexpected keys);
* the images go through mmext's pipeline (``LoadImageFromFile``,
  ``PackFlowInputs``) and preprocessor, and must give mmflow's normalised input;
* the predicted flow must match mmflow's to < 1e-3 px.

Two cases: ``main`` (64x96, divisible by 8) and ``odd`` (58x85), where mmflow's test
pipeline edge-pads to 64x88 (centred) before normalising and crops the flow back,
and mmext pads inside the model after normalising (equivalent for edge padding).
"""
import ast
import copy
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.runner import load_checkpoint

import mmext  # noqa: F401  (registers mmext's components)
from mmext.flow.models import InputPadder
from mmext.registry import MODELS, TRANSFORMS

FIXTURE = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'data',
                   'raft_reference')
CASES = {
    'main': ('frame1.png', 'frame2.png'),
    'odd': ('frame1_odd.png', 'frame2_odd.png'),
}
#: Inputs are (x - 127.5) / 127.5 of uint8 values: float32 rounding only.
INPUT_ATOL = 1e-6
#: The parity requirement, in pixels at full resolution.
FLOW_ATOL = 1e-3


def _load_formula():
    # tests/data is not a package; load formula.py by path as make_reference does.
    spec = importlib.util.spec_from_file_location(
        'raft_reference_formula', osp.join(FIXTURE, 'formula.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


formula = _load_formula()


@pytest.fixture(scope='module')
def expected():
    with np.load(osp.join(FIXTURE, 'expected.npz')) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope='module')
def reference_cfg():
    with open(osp.join(FIXTURE, 'model_cfg.json')) as f:
        return json.load(f)


def mmflow_named_shapes(expected):
    """mmflow's state-dict (name, shape) list, in mmflow's order."""
    return [(name, ast.literal_eval(shape)) for name, shape in zip(
        expected['state_dict_names'].tolist(),
        expected['state_dict_shapes'].tolist())]


def build_raft(reference_cfg):
    """mmext's RAFT from mmflow's model dict; normalisation from img_norm_cfg."""
    norm = reference_cfg['img_norm_cfg']
    cfg = copy.deepcopy(reference_cfg['model'])
    # mmflow 0.5.2 normalises in the pipeline; mmext in the data preprocessor.
    cfg['data_preprocessor'] = dict(
        type='FlowDataPreprocessor',
        mean=norm['mean'],
        std=norm['std'],
        bgr_to_rgb=norm['to_rgb'])
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def formula_weights(expected):
    return formula.formula_state_dict(mmflow_named_shapes(expected))


@pytest.fixture(scope='module')
def raft(reference_cfg, formula_weights, tmp_path_factory):
    model = build_raft(reference_cfg)
    ckpt = str(tmp_path_factory.mktemp('raft_parity') / 'formula_raft.pth')
    torch.save(
        {
            'meta': {'note': 'closed-form weights, tests/data/raft_reference'},
            'state_dict': formula_weights
        }, ckpt)
    # strict=True: mmengine raises on any missing or unexpected key.
    load_checkpoint(model, ckpt, map_location='cpu', strict=True)
    return model.eval()


def pipeline_data(case):
    """What a data loader hands the model: mmext's test pipeline on the PNGs."""
    # Built from mmext's own registry: under mmengine's root registry the name
    # LoadImageFromFile is mmcv's single-image loader.
    pipeline = Compose([
        TRANSFORMS.build(dict(type='LoadImageFromFile')),
        TRANSFORMS.build(dict(type='PackFlowInputs')),
    ])
    img1, img2 = (osp.join(FIXTURE, name) for name in CASES[case])
    return pseudo_collate([pipeline(dict(img1_path=img1, img2_path=img2))])


def test_fixture_is_small_and_from_mmflow(expected):
    # The fixture is committed with the repo: keep it small.
    total = sum(
        osp.getsize(osp.join(FIXTURE, name))
        for name in ('expected.npz', 'model_cfg.json', *CASES['main'],
                     *CASES['odd']))
    assert total < 1_000_000
    assert 'mmflow 0.5.2' in expected['versions'].tolist()
    assert int(expected['iters']) == 12
    assert len(expected['state_dict_names']) == 169


@pytest.mark.parametrize('case', sorted(CASES))
def test_pngs_are_the_formula_images(case, expected):
    import cv2
    h, w = expected[f'{case}_ori_shape'][:2]
    for path, img in zip(CASES[case], formula.formula_images(int(h), int(w))):
        png = cv2.imread(osp.join(FIXTURE, path), cv2.IMREAD_COLOR)
        # At most one grey level: a platform's libm may round a value that
        # lands on .5 the other way; the PNG files are the source of truth.
        assert png.shape == img.shape
        assert np.abs(png.astype(int) - img.astype(int)).max() <= 1


def test_state_dict_names_and_shapes_match_mmflow(reference_cfg, expected):
    model = build_raft(reference_cfg)
    mine = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert mine == dict(mmflow_named_shapes(expected))
    assert sum(p.numel() for p in model.parameters()) == 5_257_536


def test_state_dict_order_matches_mmflow(reference_cfg, expected):
    # Order matters beyond load_state_dict: an optimizer state (resume) maps by
    # parameter index. mmflow's quirk: encoder.conv2 before res_layer2.
    model = build_raft(reference_cfg)
    mine = list(model.state_dict())
    theirs = expected['state_dict_names'].tolist()
    first = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b),
                 None)
    assert mine == theirs, (
        f'first difference at index {first}: mmext {mine[first]!r}, '
        f'mmflow {theirs[first]!r}')


def test_checkpoint_loads_bit_exactly(raft, formula_weights):
    state = raft.state_dict()
    assert state.keys() == formula_weights.keys()
    for name, value in formula_weights.items():
        assert state[name].dtype == value.dtype, name
        assert torch.equal(state[name], value), name


@pytest.mark.parametrize('case', sorted(CASES))
def test_normalised_input_matches_mmflow(case, raft, expected):
    data = raft.data_preprocessor(pipeline_data(case), False)
    inputs = data['inputs']
    h, w = (int(s) for s in expected[f'{case}_ori_shape'][:2])
    assert inputs.shape == (1, 6, h, w)
    assert inputs.dtype == torch.float32
    # mmflow pads (edge, centred) before normalising; mmext's model pads after.
    padder = InputPadder((h, w), raft.size_divisor)
    (top, bottom), (left, right) = expected[f'{case}_pad'].tolist()
    assert (padder.top, padder.bottom, padder.left, padder.right) == (
        top, bottom, left, right)
    padded = padder.pad(inputs)[0].numpy()
    ref = expected[f'{case}_imgs']
    assert padded.shape == ref.shape
    assert np.abs(padded - ref).max() <= INPUT_ATOL


def _lowres_flows(raft, data):
    """mmext's predictions (``test_step``, as a runner calls it) and the flow
    after each GRU iteration at 1/8 scale, cumulated from the flow head."""
    deltas = []
    handle = raft.decoder.flow_pred.register_forward_hook(
        lambda module, args, out: deltas.append(out.detach().clone()))
    try:
        with torch.no_grad():
            samples = raft.test_step(data)
    finally:
        handle.remove()
    return samples, torch.cumsum(torch.cat(deltas), dim=0).numpy()


@pytest.fixture(scope='module')
def predict(raft):
    """``predict(case)``: one forward per case, shared by the tests below."""
    cache = {}

    def get(case):
        if case not in cache:
            cache[case] = _lowres_flows(raft, pipeline_data(case))
        return cache[case]

    return get


@pytest.mark.parametrize('case', sorted(CASES))
def test_flow_matches_mmflow(case, predict, expected):
    samples, lowres = predict(case)
    flow = samples[0].pred_flow_fw.data.numpy().transpose(1, 2, 0)
    ref = expected[f'{case}_flow']
    ref_lowres = expected[f'{case}_flow_lowres']
    assert flow.shape == ref.shape
    assert lowres.shape == ref_lowres.shape  # iterations and 1/8 grid
    # Where the two part ways, per iteration (1/8-scale px): the first entry
    # above float noise names the iteration where the update first differs.
    per_iter = np.abs(lowres - ref_lowres).reshape(len(lowres), -1).max(1)
    diff = np.abs(flow - ref).max()
    assert diff < FLOW_ATOL, (
        f'{case}: max |flow - mmflow| = {diff:.3g} px; per-iteration 1/8-scale '
        f'max diffs {np.array2string(per_iter, precision=3)}')
    # The reference flow is not trivial: a model predicting ~0 cannot pass.
    assert np.abs(ref).max() > 5


@pytest.mark.parametrize('case', sorted(CASES))
def test_iteration_flows_match_mmflow(case, predict, expected):
    _, lowres = predict(case)
    # 1/8-scale flows are upsampled x8, so this is the same 1e-3 px budget.
    assert np.abs(lowres - expected[f'{case}_flow_lowres']).max() < FLOW_ATOL / 8
