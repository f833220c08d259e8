"""mmrazor components: algorithms, hooks and ops registered in mmrazor's
registries."""
from . import flownas, strucspars  # noqa: F401
