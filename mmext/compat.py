"""Shims that let the pinned 2023-era OpenMMLab stack run on current PyTorch.

Installed once by ``import mmext``, which imports no upstream model package: a
shim that patches a heavy upstream module (mmrazor, mmengine's runner and
optimizers, mmpretrain's models) waits for that module's import and acts right
before or right after it executes (:func:`when_imported`), so a process pays
only for the upstream packages it uses. Each shim names its target (package and
version), says why it exists, and acts only where the upstream still lacks the
name, so it becomes a no-op once upstream catches up. Checkpoint safety under
``weights_only`` lives in :mod:`mmext.checkpoint`.
"""
import copy
import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

__all__ = ['apply_all', 'when_imported', 'APPLIED']

#: Names of the shims that acted in this process (the others found upstream fixed).
APPLIED = []


class _ShimmingLoader:
    """Wraps the loader of a hooked module: its ``before`` shims run right
    before the module executes, its ``after`` shims right after."""

    def __init__(self, loader, hooks, name):
        self.loader, self.hooks, self.name = loader, hooks, name

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # The module keeps its own loader (inspect, importlib.resources).
        module.__loader__ = module.__spec__.loader = self.loader
        for shim in self.hooks.before.pop(self.name, ()):
            shim()
        self.loader.exec_module(module)
        for shim in self.hooks.after.pop(self.name, ()):
            shim()

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _ImportHooks(importlib.abc.MetaPathFinder):
    """A meta path finder that never finds a module itself: for a hooked
    name it asks the finders after it and wraps the loader they return."""

    def __init__(self):
        self.before, self.after = {}, {}

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.before and fullname not in self.after:
            return None
        for finder in sys.meta_path:
            find_spec = getattr(finder, 'find_spec', None)
            if finder is self or find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, 'exec_module'):
            spec.loader = _ShimmingLoader(spec.loader, self, fullname)
        return spec


_HOOKS = _ImportHooks()


def when_imported(module: str, shim, before: bool = False) -> None:
    """Run ``shim`` when ``module`` is imported: right after it executes, or
    with ``before=True`` right before. Where the module is already imported,
    an ``after`` shim runs now and a ``before`` shim not at all."""
    if module in sys.modules:
        if not before:
            shim()
        return
    if _HOOKS not in sys.meta_path:
        sys.meta_path.insert(0, _HOOKS)
    hooks = _HOOKS.before if before else _HOOKS.after
    pending = hooks.setdefault(module, [])
    if shim not in pending:
        pending.append(shim)


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
    """mmcv-lite has no ``mmcv._ext``; install the stand-in where it is absent.

    The extension is looked for in mmcv's folder, without importing mmcv.
    """
    if 'mmcv._ext' in sys.modules:
        return
    mmcv = importlib.util.find_spec('mmcv')
    if mmcv is None or importlib.machinery.PathFinder.find_spec(
            'mmcv._ext', mmcv.submodule_search_locations):
        return
    stand_in = _MissingExtension('mmcv._ext')
    # A spec without a loader makes mmcv's own `check_ops_exist()` answer False,
    # which is the truth under mmcv-lite.
    stand_in.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    sys.modules['mmcv._ext'] = stand_in
    APPLIED.append('mmcv_ext_stand_in')


#: What mmcls 1.x became: its module, config package and registry scope.
_MMCLS_SUCCESSOR = 'mmpretrain'


class _MMClsAliasFinder:
    """Import hook making ``import mmcls[.x]`` return ``mmpretrain[.x]``.

    The module object is shared, never re-executed, so each class is defined
    and registered once, under mmpretrain's name.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'mmcls' and not fullname.startswith('mmcls.'):
            return None
        target = _MMCLS_SUCCESSOR + fullname[len('mmcls'):]
        try:
            target_spec = importlib.util.find_spec(target)
        except ImportError:  # a parent of the target does not exist
            return None
        if target_spec is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname,
            self,
            is_package=target_spec.submodule_search_locations is not None)

    def create_module(self, spec):
        return importlib.import_module(_MMCLS_SUCCESSOR +
                                       spec.name[len('mmcls'):])

    def exec_module(self, module):
        """The target module is already executed."""


def _map_mmcls_scope(scope):
    return _MMCLS_SUCCESSOR if scope == 'mmcls' else scope


def _alias_mmcls_to_mmpretrain() -> None:
    """mmrazor 1.0.0 is written against mmcls 1.x, which is now mmpretrain.

    Its shipped configs inherit ``mmcls::`` files and name ``mmcls.X`` types
    and ``_scope_='mmcls'``; its models subclass ``mmcls.models`` classes
    inside ``try: from mmcls... except ImportError`` blocks that otherwise
    leave placeholders raising "`mmcls` is not installed properly" (e.g. the
    SPOS SearchableShuffleNetV2 supernet). Where mmcls is not importable and
    mmpretrain is, this aliases all three to mmpretrain: the module (a meta
    path finder returning mmpretrain's modules, must precede
    ``import mmrazor``), the config package (mmengine 0.10.7's
    ``MODULE2PACKAGE``) and the registry scope (mmengine's
    ``Registry.split_scope_key`` and ``switch_scope_and_registry``, also for
    a ``default_scope='mmcls'``). Names mmpretrain renamed
    (``ClsDataSample``, ``PackClsInputs``) stay missing. Nothing is imported
    until mmcls is first used.
    """
    import functools

    from mmengine.config import utils as config_utils
    from mmengine.registry import DefaultScope, Registry

    if any(isinstance(f, _MMClsAliasFinder) for f in sys.meta_path):
        return
    if (importlib.util.find_spec('mmcls') is not None
            or importlib.util.find_spec(_MMCLS_SUCCESSOR) is None):
        return
    # First, so that no path finder builds a second copy of a submodule.
    sys.meta_path.insert(0, _MMClsAliasFinder())
    config_utils.MODULE2PACKAGE['mmcls'] = _MMCLS_SUCCESSOR

    split_scope_key = Registry.split_scope_key

    @functools.wraps(split_scope_key)
    def split_aliased_scope_key(key):
        scope, real_key = split_scope_key(key)
        return _map_mmcls_scope(scope), real_key

    switch_scope_and_registry = Registry.switch_scope_and_registry

    @functools.wraps(switch_scope_and_registry)
    def switch_aliased_scope_and_registry(self, scope):
        if scope is None:
            current = DefaultScope.get_current_instance()
            if current is not None and current.scope_name == 'mmcls':
                scope = _MMCLS_SUCCESSOR
        return switch_scope_and_registry(self, _map_mmcls_scope(scope))

    Registry.split_scope_key = staticmethod(split_aliased_scope_key)
    Registry.switch_scope_and_registry = switch_aliased_scope_and_registry
    APPLIED.append('mmcls_alias')


def _betas_as_floats(optimizer_cls):
    """A subclass of ``optimizer_cls`` that turns int betas into floats."""
    import inspect

    def __init__(self, params, *args, **kwargs):
        if 'betas' in kwargs:
            kwargs['betas'] = _floats(kwargs['betas'])
        elif len(args) >= 2:  # (lr, betas, ...)
            args = (args[0], _floats(args[1])) + args[2:]
        optimizer_cls.__init__(self, params, *args, **kwargs)

    __init__.__signature__ = inspect.signature(optimizer_cls.__init__)
    # Named like torch's class in logs; found by pickle under `qualname`.
    qualname = f'_FloatBetas{optimizer_cls.__name__}'
    subclass = type(optimizer_cls.__name__, (optimizer_cls, ), {
        '__init__': __init__,
        '__module__': __name__,
        '__qualname__': qualname,
        '__doc__': optimizer_cls.__doc__,
    })
    globals()[qualname] = subclass
    return subclass


def _floats(betas):
    return tuple(
        float(b) if isinstance(b, int) and not isinstance(b, bool) else b
        for b in betas)


def _accept_int_adam_betas() -> None:
    """torch >= 2.13's Adam/AdamW reject betas that are not all floats.

    mmagic 1.2.0's StyleGAN2 configs (and older recipes) write
    ``betas=(0, 0.99**r)``, which torch 2.13+ refuses with "betas must be
    either both floats or both Tensors". Where a probe on a dummy parameter
    shows that refusal, the optimizer's entry in mmengine 0.10.7's
    ``OPTIMIZERS`` registry (the one every mmengine, mmpretrain, mmrazor and
    mmagic constructor builds from) is replaced by a subclass that converts
    int betas to floats; ``torch.optim`` itself is untouched. Only an
    optimizer whose source has the refusal is probed: one that accepts the
    probe goes on to ``Optimizer.__init__``, whose first call imports
    torch._dynamo (1 s), which an inference-only process never needs.
    """
    import inspect

    import torch
    from mmengine.optim.optimizer.builder import OPTIMIZERS

    acted = False
    probe = [torch.nn.Parameter(torch.zeros(1))]
    for name in ('Adam', 'AdamW', 'Adamax', 'NAdam', 'RAdam'):
        optimizer_cls = OPTIMIZERS.module_dict.get(name)
        if optimizer_cls is None or optimizer_cls is not getattr(
                torch.optim, name, None):
            continue  # absent, or already replaced
        if not any('betas must be either both floats' in inspect.getsource(
                klass.__init__) for klass in optimizer_cls.__mro__
                   if klass is not object and '__init__' in vars(klass)):
            continue
        try:
            optimizer_cls(probe, betas=(0, 0.5))
        except ValueError:
            OPTIMIZERS.register_module(
                name=name, module=_betas_as_floats(optimizer_cls), force=True)
            acted = True
    if acted:
        APPLIED.append('int_adam_betas')


def _block_transformers_import() -> None:
    """mmengine 0.10.7 imports transformers (0.4 s, installed for mmagic) as
    its optimizer builder loads, only to register ``Adafactor``, so every
    model would pay for it. Until the builder has executed, ``import
    transformers`` fails as if it were absent (a ``None`` entry in
    ``sys.modules``); :func:`_register_lazy_adafactor` then restores it."""
    if ('transformers' not in sys.modules
            and importlib.util.find_spec('transformers') is not None):
        sys.modules['transformers'] = None


def _adafactor(params, *args, **kwargs):
    """transformers' ``Adafactor``, imported when an optimizer is built."""
    from transformers import Adafactor
    return Adafactor(params, *args, **kwargs)


def _register_lazy_adafactor() -> None:
    """Registers ``Adafactor`` as mmengine would have, without importing
    transformers before it is built (see :func:`_block_transformers_import`).
    """
    if 'transformers' not in sys.modules or sys.modules['transformers']:
        return
    del sys.modules['transformers']
    from mmengine.optim.optimizer.builder import OPTIMIZERS
    if 'Adafactor' not in OPTIMIZERS.module_dict:
        OPTIMIZERS.register_module(name='Adafactor', module=_adafactor)
        APPLIED.append('lazy_adafactor')


def _register_mmpretrain_clip() -> None:
    """mmpretrain 1.2.0 registers its CLIP models only with its multi-modal extras.

    Without pycocotools and transformers it registers placeholders for ``CLIP``
    and ``CLIPZeroShot`` that raise "install mmpretrain[multimodal]" when built,
    and leaves ``CLIPTransformer``/``CLIPProjection`` unregistered. CLIP needs
    neither package (pycocotools serves COCO captioning; mmext's tokenizer is
    offline), so the placeholders are dropped and mmpretrain's own ``clip``
    package is imported, which registers the real classes.
    """
    from mmpretrain.registry import MODELS
    import mmpretrain.models  # noqa: F401  (registers the placeholders, if any)

    placeholders = [
        name for name in ('CLIP', 'CLIPZeroShot')
        # The placeholders are plain functions; the real entries are classes.
        if name in MODELS.module_dict
        and not isinstance(MODELS.module_dict[name], type)
    ]
    if not placeholders:
        return
    for name in placeholders:
        del MODELS._module_dict[name]
    importlib.import_module('mmpretrain.models.multimodal.clip')
    APPLIED.append('mmpretrain_clip')


def _drop_scope_from_collate_fn() -> None:
    """mmengine 0.10.7's ``Runner.build_dataloader`` passes every key of a
    ``collate_fn`` dict to the function, including the ``_scope_`` that
    ``Config`` adds to dicts inherited from another package: a config that
    inherits ``mmpretrain::mocov2/...`` (``collate_fn=dict(type=
    'default_collate')``) fails with "unexpected keyword argument '_scope_'".
    The key is dropped before the dataloader is built.
    """
    import inspect

    from mmengine.runner import Runner

    build_dataloader = Runner.build_dataloader
    # Upstream handles the key once its source mentions it; a wrapped method
    # is this shim's own.
    if (hasattr(build_dataloader, '__wrapped__')
            or '_scope_' in inspect.getsource(build_dataloader)):
        return

    @functools.wraps(build_dataloader)
    def build_dataloader_without_scope(dataloader, *args, **kwargs):
        if isinstance(dataloader, dict) and isinstance(
                dataloader.get('collate_fn'), dict):
            dataloader = copy.copy(dataloader)
            dataloader['collate_fn'] = {
                key: value for key, value in dataloader['collate_fn'].items()
                if key != '_scope_'
            }
        return build_dataloader(dataloader, *args, **kwargs)

    Runner.build_dataloader = staticmethod(build_dataloader_without_scope)
    APPLIED.append('collate_fn_scope')


def _resolve_mmext_configs() -> None:
    """Let configs anywhere inherit ``mmext::<method>/<config>.py``.

    mmengine 0.10.7 resolves ``pkg::path`` only for the packages in its fixed
    ``MODULE2PACKAGE`` table, and finds the package through
    ``pkg_resources``' distribution location, which for a PEP 660 editable
    install (``pip install -e .``) is site-packages, where no ``mmext/``
    folder exists. mmext is added to the table, and a location without the
    package falls back on the import system's (the configs themselves are
    under ``mmext/.mim/``, put there by setup.py).
    """
    import os.path as osp

    from mmengine.config import config as config_module
    from mmengine.config import utils as config_utils

    if 'mmext' not in config_utils.MODULE2PACKAGE:
        config_utils.MODULE2PACKAGE['mmext'] = 'mmext'
        APPLIED.append('mmext_config_scope')
    get_installed_path = config_module.get_installed_path
    if hasattr(get_installed_path, '__wrapped__'):
        return

    @functools.wraps(get_installed_path)
    def installed_or_importable_path(package):
        path = get_installed_path(package)
        if osp.isdir(path):
            return path
        module = next((module for module, name in
                       config_utils.MODULE2PACKAGE.items() if name == package),
                      package)
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            return path
        return osp.dirname(spec.origin)

    config_module.get_installed_path = installed_or_importable_path
    APPLIED.append('editable_install_path')


def _patch_mmengine_runtime() -> None:
    """What mmext changes in mmengine's training runtime, applied once its
    runner is imported: the collate_fn shim, weights_only-safe atomic
    checkpoints (:mod:`mmext.checkpoint`) and the crash-safe CheckpointHook
    (:mod:`mmext.engine.hooks`)."""
    _drop_scope_from_collate_fn()
    importlib.import_module('mmext.checkpoint')
    importlib.import_module('mmext.engine.hooks')


def apply_all() -> None:
    """Apply the shims whose targets are light (mmcv's extension, the mmcls
    alias, config inheritance) and hook the others to the upstream modules
    they patch; each acts only where its name is still missing."""
    _stand_in_for_mmcv_ext()
    _alias_mmcls_to_mmpretrain()
    _resolve_mmext_configs()
    when_imported('mmrazor', _restore_quantization_names, before=True)
    when_imported('mmengine.optim.optimizer.builder',
                  _block_transformers_import, before=True)
    when_imported('mmengine.optim.optimizer.builder', _register_lazy_adafactor)
    when_imported('mmengine.optim.optimizer.builder', _accept_int_adam_betas)
    when_imported('mmpretrain.models', _register_mmpretrain_clip)
    when_imported('mmengine.runner', _patch_mmengine_runtime)


apply_all()
