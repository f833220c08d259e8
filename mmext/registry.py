"""mmext's registries, for parts that have no importable upstream, and the
lazy registration of the parts that extend upstream packages.

Each node is a child of mmengine's root of the same name, in scope ``mmext``;
its ``locations`` import the flow modules the first time it looks up a type.
Optical flow lives here because mmflow cannot be imported beside mmcv 2.x; parts
that extend mmpretrain, mmrazor or mmagic register in those packages' own
registries instead, so that upstream configs name them directly. Those families
are imported the first time a registry of their upstream scope imports its own
modules (:data:`UPSTREAM_FAMILIES`), so ``import mmext`` costs no upstream
model package.
"""
import functools
import importlib
import sys

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

__all__ = [
    'MODELS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'METRICS', 'HOOKS',
    'LOOPS', 'TASK_UTILS', 'VISUALIZERS', 'VISBACKENDS', 'UPSTREAM_FAMILIES'
]

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmext',
                  locations=['mmext.flow.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmext',
                    locations=['mmext.flow.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS,
                         scope='mmext', locations=['mmext.flow.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmext',
                      locations=['mmext.flow.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmext',
                   locations=['mmext.flow.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmext',
                 locations=['mmext.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='mmext',
                 locations=['mmext.engine'])
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope='mmext',
                      locations=['mmext.flow.models'])
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS,
                       scope='mmext', locations=['mmext.flow.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS,
                       scope='mmext', locations=['mmext.flow.visualization'])


#: The mmext families that register into each upstream scope's registries.
UPSTREAM_FAMILIES = {
    'mmpretrain': ('mmext.classification', 'mmext.correspondence'),
    'mmrazor': ('mmext.razor', ),
    'mmagic': ('mmext.generation', ),
}


def _initializing(package: str) -> bool:
    """Whether a module of ``package`` is executing its import now."""
    return any(
        getattr(getattr(module, '__spec__', None), '_initializing', False)
        for name, module in list(sys.modules.items())
        if name == package or name.startswith(package + '.'))


#: Upstream scopes whose registries have imported their modules, with mmext's
#: families for them still to import.
_PENDING_SCOPES = set()


def _import_pending_families() -> None:
    """Import the families of the pending scopes whose package is not in the
    middle of its own import (mmrazor's modules look types up while they
    import, and a family importing them then would find them half-made)."""
    for scope in sorted(_PENDING_SCOPES):
        if not _initializing(scope):
            _PENDING_SCOPES.discard(scope)
            for family in UPSTREAM_FAMILIES[scope]:
                importlib.import_module(family)


def _import_families_with_upstream_modules() -> None:
    """Extend mmengine's lazy import (``Registry.import_from_location``, which
    runs at every lookup and imports a registry's modules at its first): once
    a registry of an upstream scope has imported its own modules, the mmext
    families of that scope are imported too, so ``type='NameInitClsHead'``
    under ``default_scope='mmpretrain'`` finds mmext's head. mmengine offers
    no per-scope hook, and a location added to mmrazor's registries would
    switch off their fallback (``mmrazor.utils.register_all_modules``)."""
    import_from_location = Registry.import_from_location
    if hasattr(import_from_location, '__wrapped__'):
        return

    @functools.wraps(import_from_location)
    def import_with_families(self):
        if not self._imported and self.scope in UPSTREAM_FAMILIES:
            _PENDING_SCOPES.add(self.scope)
        import_from_location(self)
        if _PENDING_SCOPES:
            _import_pending_families()

    Registry.import_from_location = import_with_families
    # An upstream registry may have looked up types before mmext was imported.
    _PENDING_SCOPES.update(scope for scope in UPSTREAM_FAMILIES
                           if f'{scope}.registry' in sys.modules)
    _import_pending_families()


_import_families_with_upstream_modules()
