"""mmext: research methods as drop-in OpenMMLab components.

Importing mmext installs the compatibility layer for the pinned OpenMMLab stack
on current PyTorch (see :mod:`mmext.compat`) and makes every mmext component
findable by type name, but imports no method family: as in OpenMMLab packages,
a registry imports a family the first time it looks up a type (flow through
:mod:`mmext.registry`'s ``locations``, the families extending mmpretrain,
mmrazor and mmagic with their upstream's modules), and ``import mmext.flow``
imports only optical flow.
"""
import importlib

from . import compat  # noqa: F401  (must run before the upstream packages import)
from . import registry  # noqa: F401

__version__ = '0.1.0'

#: Subpackages loaded on first attribute access (``mmext.flow.X``).
_SUBPACKAGES = ('checkpoint', 'classification', 'correspondence', 'engine',
                'flow', 'generation', 'razor')


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
