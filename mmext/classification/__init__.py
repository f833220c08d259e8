"""mmpretrain components: datasets and heads, registered in mmpretrain's registries."""
from . import datasets  # noqa: F401
