"""Shims that let the pinned 2023-era OpenMMLab stack run on current PyTorch.

Applied once by ``import mmext``, before any upstream model package is imported.
Each shim names its target (package and version), says why it exists, and acts only
where the upstream still lacks the name, so it becomes a no-op once upstream catches
up. Checkpoint safety under ``weights_only`` lives in :mod:`mmext.checkpoint`.
"""
import importlib
import importlib.machinery
import importlib.util
import sys
import types

__all__ = ['apply_all', 'APPLIED']

#: Names of the shims that acted in this process (the others found upstream fixed).
APPLIED = []


def _restore_quantization_names() -> None:
    """mmrazor 1.0.0 imports names torch >= 2.13 made private or dropped.

    Without them ``import mmrazor`` fails ("`torch>=1.13` is not installed
    properly"). Restoring the names lets mmrazor import; its quantization
    algorithms are not made correct by this and mmext does not use them.
    """
    from torch.ao.quantization import backend_config
    from torch.ao.quantization import fuser_method_mappings as fmm
    from torch.ao.quantization.backend_config import BackendPatternConfig

    acted = False
    # torch's BackendConfig reaches `backend_config.utils` as an attribute but
    # no longer imports that submodule itself.
    if not hasattr(backend_config, 'utils'):
        importlib.import_module('torch.ao.quantization.backend_config.utils')
        acted = True
    for public, private in (('reverse2', '_reverse2'),
                            ('reverse3', '_reverse3')):
        if not hasattr(fmm, public) and hasattr(fmm, private):
            setattr(fmm, public, getattr(fmm, private))
            acted = True

    if not hasattr(fmm, 'reverse_sequential_wrapper2'):

        def reverse_sequential_wrapper2(sequential):
            """torch 1.13's helper: fuse (m1, m2) given in reversed order."""
            return fmm._reverse2(fmm._sequential_wrapper2(sequential))

        fmm.reverse_sequential_wrapper2 = reverse_sequential_wrapper2
        acted = True

    for setter in ('_set_overwrite_output_fake_quantize',
                   '_set_overwrite_output_observer',
                   '_set_input_output_observed'):
        if not hasattr(BackendPatternConfig, setter):
            setattr(BackendPatternConfig, setter,
                    _make_builder_setter(setter[len('_set_'):]))
            acted = True
    if acted:
        APPLIED.append('quantization_names')


def _make_builder_setter(attr: str):
    """A chaining setter like the ones BackendPatternConfig lost."""

    def setter(self, value):
        setattr(self, '_' + attr, value)
        return self

    setter.__name__ = '_set_' + attr
    return setter


class _MissingExtension(types.ModuleType):
    """Stands in for mmcv's compiled ``mmcv._ext`` in mmcv-lite.

    mmagic imports ``mmcv.ops`` unconditionally, and mmcv.ops checks that every
    compiled function exists at import. Each attribute is a function that raises
    a clear error only when called, so pure-PyTorch fallbacks keep working.
    """

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)

        def unavailable(*args, **kwargs):
            raise RuntimeError(
                f'mmcv op `{name}` needs the compiled mmcv._ext, which '
                'mmcv-lite does not ship. Install the full mmcv 2.1.0 built '
                'with ops (MMCV_WITH_OPS=1) to use it.')

        unavailable.__name__ = name
        return unavailable


def _stand_in_for_mmcv_ext() -> None:
    """mmcv-lite has no ``mmcv._ext``; install the stand-in where it is absent."""
    if 'mmcv._ext' in sys.modules or importlib.util.find_spec(
            'mmcv') is None or importlib.util.find_spec('mmcv._ext'):
        return
    stand_in = _MissingExtension('mmcv._ext')
    # A spec without a loader makes mmcv's own `check_ops_exist()` answer False,
    # which is the truth under mmcv-lite.
    stand_in.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    sys.modules['mmcv._ext'] = stand_in
    APPLIED.append('mmcv_ext_stand_in')


def apply_all() -> None:
    """Apply every shim; each acts only where its name is still missing."""
    _restore_quantization_names()
    _stand_in_for_mmcv_ext()


apply_all()
