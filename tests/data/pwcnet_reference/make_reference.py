"""Regenerate the mmflow 0.5.2 PWC-Net parity constants (run INSIDE an mmflow venv).

``tests/test_flow/test_pwcnet.py::test_parity_with_mmflow`` compares mmext's PWC-Net
with the numbers this script prints: ``MMFLOW_PYRAMID`` (per decoded level, the sum
and the sum of absolute values of the flow), ``MMFLOW_LOSS`` (``decoder.losses``),
``MMFLOW_FLOW`` (``forward_test``'s flow at four pixels) and ``MMFLOW_FLOW_MEAN``.

The model is mmflow's own, built from the config shipped in its wheel
(``mmflow/.mim/configs/_base_/models/pwcnet.py``), in eval mode under ``no_grad``, with
the weights of :func:`formula.closed_form_state_dict` loaded strictly and fed
:func:`formula.closed_form_inputs`. mmcv's ``Correlation`` exists for CUDA only; its
kernel, transcribed for the CPU in ``correlation_cpu.py``, takes its place.

Building the reference venv (CPU only, Python 3.11; ~1 minute with mmext's venv at
hand, whose torch it reuses; the ``.pth`` line appends that site-packages AFTER the
new venv's own, so mmcv 1.7.2 shadows mmext's mmcv 2.x)::

    python3 -m venv /tmp/mmflow_venv
    SP=/tmp/mmflow_venv/lib/python3.11/site-packages
    echo "$PWD/.venv/lib/python3.11/site-packages" > $SP/zz_mmext.pth
    /tmp/mmflow_venv/bin/pip install 'setuptools<70' wheel
    MMCV_WITH_OPS=0 /tmp/mmflow_venv/bin/pip install --no-build-isolation \
        --no-deps mmcv==1.7.2
    /tmp/mmflow_venv/bin/pip install --no-deps mmflow==0.5.2
    # mmcv.ops checks that mmcv._ext has the compiled symbols; none is called here.
    cat > $SP/mmcv/_ext.py <<'PY'
    def __getattr__(name):
        def _missing(*args, **kwargs):
            raise RuntimeError(f'mmcv._ext.{name}: compiled op not built')
        return _missing
    PY

(a venv of its own, as ``tests/data/raft_reference/make_reference.py`` builds one,
works as well). Then, from the repository root::

    /tmp/mmflow_venv/bin/python tests/data/pwcnet_reference/make_reference.py \
        --check tests/test_flow/test_pwcnet.py \
        --check-keys tests/data/mmflow_pwcnet_state_dict_keys.txt

It prints the constants as Python; ``--check`` compares them with the test's
(within the test's own tolerances) and exits 1 on a difference. Bit-identical
numbers are not to be expected: float32 convolutions on the CPU round differently
with the number of threads and the instruction set (here the pyramid's sums move
by ~1e-6 between OMP_NUM_THREADS=1 and 2), far below the tolerances (1e-4
relative; 1e-3 px for the flow). Measured here (torch 2.14.1, 2-core x86_64,
OMP_NUM_THREADS=1): largest relative difference 7.2e-6, in about 5 s.
"""
import argparse
import ast
import os.path as osp
import sys
import tempfile

import torch

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from correlation_cpu import CorrelationCPU  # noqa: E402
from formula import closed_form_inputs, closed_form_state_dict  # noqa: E402

CONFIG = '_base_/models/pwcnet.py'
#: Pixels (y, x) whose flow is recorded.
PIXELS = [(0, 0), (17, 40), (63, 63), (32, 5)]
NAMES = ('MMFLOW_PYRAMID', 'MMFLOW_LOSS', 'MMFLOW_FLOW', 'MMFLOW_FLOW_MEAN')


def build_mmflow_pwcnet():
    """mmflow's PWC-Net with the CPU correlation and the closed-form weights."""
    import mmcv
    import mmflow
    from mmcv.runner import load_checkpoint
    from mmflow.models import build_flow_estimator

    cfg = mmcv.Config.fromfile(
        osp.join(osp.dirname(mmflow.__file__), '.mim', 'configs', CONFIG))
    model = build_flow_estimator(cfg.model).eval()
    corr_block = model.decoder.corr_block
    mmcv_corr = corr_block.corr_block[0]
    corr_block.corr_block[0] = CorrelationCPU(
        mmcv_corr.kernel_size, mmcv_corr.max_displacement, mmcv_corr.stride,
        mmcv_corr.padding, mmcv_corr.dilation, mmcv_corr.dilation_patch)
    state_dict = closed_form_state_dict(model.state_dict())
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = osp.join(tmp, 'closed_form.pth')
        torch.save({'meta': {}, 'state_dict': state_dict}, ckpt)
        load_checkpoint(model, ckpt, map_location='cpu', strict=True)
    for k, v in model.state_dict().items():  # loaded bit-exactly
        assert torch.equal(v, state_dict[k]), k
    return model


def record(model):
    """The constants, as the test names them."""
    imgs, gt = closed_form_inputs()
    outputs = []
    # decoder.forward_test calls self.forward directly, past any module hook.
    decoder_forward = model.decoder.forward
    model.decoder.forward = lambda *args: outputs.append(
        decoder_forward(*args)) or outputs[-1]
    with torch.no_grad():
        flow = model.forward_test(imgs)[0]['flow']  # (H, W, 2) numpy
        pyramid, = outputs
        loss = model.decoder.losses(pyramid, gt)['loss_flow']
    return dict(
        MMFLOW_PYRAMID={
            level: (pyramid[level].sum().item(),
                    pyramid[level].abs().sum().item())
            for level in sorted(pyramid)
        },
        MMFLOW_LOSS=loss.item(),
        MMFLOW_FLOW={(y, x): tuple(float(v) for v in flow[y, x])
                     for y, x in PIXELS},
        MMFLOW_FLOW_MEAN=tuple(float(v) for v in flow.mean(axis=(0, 1))))


def test_constants(path):
    """The test module's constants, read without importing it."""
    with open(path) as f:
        tree = ast.parse(f.read())
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body if isinstance(node, ast.Assign)
        and getattr(node.targets[0], 'id', None) in NAMES
    }


def flatten(value):
    """The numbers of a constant, in a fixed order."""
    if isinstance(value, dict):
        return [x for key in sorted(value) for x in flatten(value[key])]
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in flatten(v)]
    return [value]


def largest_relative_difference(recorded, expected):
    return max(
        abs(a - b) / max(abs(b), 1e-12) for name in NAMES
        for a, b in zip(flatten(recorded[name]), flatten(expected[name])))


def differences(recorded, expected):
    """Entries that differ beyond the test's tolerances."""
    import pytest
    bad = []
    for level, pair in recorded['MMFLOW_PYRAMID'].items():
        if pair != pytest.approx(expected['MMFLOW_PYRAMID'][level], rel=1e-4,
                                 abs=1e-4):
            bad.append(f'MMFLOW_PYRAMID[{level!r}]')
    if recorded['MMFLOW_LOSS'] != pytest.approx(expected['MMFLOW_LOSS'],
                                                rel=1e-5):
        bad.append('MMFLOW_LOSS')
    for pixel, uv in recorded['MMFLOW_FLOW'].items():
        if uv != pytest.approx(expected['MMFLOW_FLOW'][pixel], abs=1e-3):
            bad.append(f'MMFLOW_FLOW[{pixel}]')
    if recorded['MMFLOW_FLOW_MEAN'] != pytest.approx(
            expected['MMFLOW_FLOW_MEAN'], abs=1e-3):
        bad.append('MMFLOW_FLOW_MEAN')
    return bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', help='test module whose constants to compare')
    parser.add_argument('--check-keys',
                        help='"name (shape)" per line, mmflow\'s state dict')
    args = parser.parse_args()

    import mmcv
    import mmflow
    print(f'# mmflow {mmflow.__version__}, mmcv {mmcv.__version__}, '
          f'torch {torch.__version__}')
    model = build_mmflow_pwcnet()
    if args.check_keys:
        with open(args.check_keys) as f:
            spec = [line.strip() for line in f if line.strip()]
        mine = [f'{k} {tuple(v.shape)}' for k, v in model.state_dict().items()]
        assert mine == spec, 'state_dict differs from ' + args.check_keys
    recorded = record(model)
    for name in NAMES:
        print(f'{name} = {recorded[name]!r}')
    if args.check:
        expected = test_constants(args.check)
        bad = differences(recorded, expected)
        rel = largest_relative_difference(recorded, expected)
        print(f'# {args.check}: ' + (
            'DIFFERENT: ' + ', '.join(bad) if bad else
            'equal within the test tolerances') +
              f' (largest relative difference {rel:.1e})')
        sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
