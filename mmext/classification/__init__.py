"""mmpretrain components: datasets and heads, registered in mmpretrain's registries."""
from . import backbones, datasets, heads, text  # noqa: F401
