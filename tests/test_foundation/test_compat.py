"""Each shim of mmext.compat repairs what it claims to, and mmext imports quietly."""
import subprocess
import sys

import pytest
import torch

import mmext  # noqa: F401
from mmext import compat


def test_quantization_names_are_restored_and_behave_like_torch_113():
    import mmrazor  # noqa: F401  (the shim acts right before mmrazor imports)
    from torch.ao.quantization import fuser_method_mappings as fmm
    from torch.ao.quantization.backend_config import BackendPatternConfig

    assert fmm.reverse2 is fmm._reverse2
    assert fmm.reverse3 is fmm._reverse3
    # The fuser gets (is_qat, m2, m1) for a reversed pattern and must return
    # Sequential(m1, m2).
    fuse = fmm.reverse_sequential_wrapper2(torch.nn.Sequential)
    relu, conv = torch.nn.ReLU(), torch.nn.Conv2d(1, 1, 1)
    fused = fuse(False, relu, conv)
    assert list(fused) == [conv, relu]

    config = BackendPatternConfig(torch.nn.Conv2d)
    assert config._set_overwrite_output_observer('obs') is config
    assert config._overwrite_output_observer == 'obs'
    assert config._set_input_output_observed(False)._input_output_observed is False
    assert hasattr(torch.ao.quantization.backend_config, 'utils')


def test_mmrazor_and_mmagic_models_import():
    import mmagic.models  # noqa: F401
    import mmrazor.models  # noqa: F401
    from mmrazor.registry import MODELS
    assert MODELS.get('SPOS') is not None
    assert 'quantization_names' in compat.APPLIED


def test_mmcv_ext_stand_in_fails_only_when_called():
    import mmcv.ops  # noqa: F401  (imports because the stand-in exists)
    from mmcv.utils import ext_loader

    assert 'mmcv_ext_stand_in' in compat.APPLIED
    assert ext_loader.check_ops_exist() is False
    ext = ext_loader.load_ext('_ext', ['nms'])
    with pytest.raises(RuntimeError, match='`nms` needs the compiled mmcv._ext'):
        ext.nms()


def test_mmcv_pure_pytorch_fallback_runs_with_the_stand_in():
    from mmcv.ops import upfirdn2d

    x = torch.arange(16.).reshape(1, 1, 4, 4)
    kernel = torch.ones(1, 1)
    assert torch.equal(upfirdn2d(x, kernel), x)


def test_mmpretrain_clip_is_registered_without_multimodal_extras():
    from mmpretrain.models.multimodal.clip.clip import CLIPZeroShot
    from mmpretrain.models.multimodal.clip.clip_transformer import \
        CLIPTransformer
    from mmpretrain.registry import MODELS

    assert MODELS.get('CLIPZeroShot') is CLIPZeroShot
    assert MODELS.get('CLIPTransformer') is CLIPTransformer


def test_shims_are_idempotent():
    before = list(compat.APPLIED)
    compat.apply_all()
    assert compat.APPLIED == before


def test_import_mmext_is_quiet():
    # Default warning filters, as a user runs it; any warning attributed to
    # mmext's own modules is turned into an error.
    result = subprocess.run(
        [sys.executable, '-W', r'error:::mmext(\..*)?$', '-c', 'import mmext'],
        capture_output=True,
        text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == '' and result.stderr == ''


def test_collate_fn_inherited_from_another_package_builds():
    # mmengine's Config adds `_scope_` to dicts inherited across packages;
    # Runner.build_dataloader would pass it to the collate function.
    from mmengine.runner import Runner

    loader = Runner.build_dataloader(dict(
        batch_size=2, dataset=[torch.zeros(3)] * 4,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate', _scope_='mmpretrain')))
    assert next(iter(loader)).shape == (2, 3)
