"""mmrazor components: algorithms, hooks and ops registered in mmrazor's
registries."""
from . import strucspars  # noqa: F401
