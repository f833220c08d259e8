"""mmext: research methods as drop-in OpenMMLab components.

Importing mmext applies the compatibility layer for the pinned OpenMMLab stack on
current PyTorch (see :mod:`mmext.compat`) and registers every mmext component.
"""
from . import compat  # noqa: F401  (must run before the upstream packages import)
from . import checkpoint, engine, registry  # noqa: F401

__version__ = '0.1.0'
from . import (classification, correspondence, flow, generation,  # noqa: F401,E402
               razor)
