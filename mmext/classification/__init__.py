"""mmpretrain components: datasets and heads, registered in mmpretrain's registries."""
from . import backbones, datasets, heads, text  # noqa: F401
from . import fas  # noqa: F401
from . import privacy  # noqa: F401
from . import semi  # noqa: F401
