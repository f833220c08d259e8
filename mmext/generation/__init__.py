"""Face-attribute transfer by exchanging latent pieces, as mmagic models:
ELEGANT and DNA-GAN, CelebA in its real layout with an embedded procedural
stand-in, 5-point alignment, and metrics for edited images."""
import warnings

with warnings.catch_warnings():
    # diffusers 0.24 (imported by mmagic) warns at import about a torch-internal
    # rename it calls; nothing a user of mmext can act on.
    warnings.filterwarnings(
        'ignore', message='.*_register_pytree_node', category=FutureWarning)
    import mmagic.models  # noqa: F401

from . import datasets  # noqa: F401,E402
from .alignment import align_face, five_point_template, similarity_transform
from .base import (AttributeExchangeGAN, concat_label_maps, exchange_labels,
                   init_normal)
from .dnagan import (DNAGAN, DNAGANDiscriminator, DNAGANGenerator, annihilate,
                     attribute_pieces, swap)
from .elegant import (ELEGANT, ELEGANTDiscriminator, ELEGANTGenerator,
                      Normalization, attribute_chunks, exchange)
from .metrics import (AttributeTransferFID, EditedAttributeAccuracy,
                      ReconstructionError)
from .visualization import AttributeTransferVisualizationHook, edit_grid

__all__ = [
    'align_face', 'five_point_template', 'similarity_transform',
    'AttributeExchangeGAN', 'exchange_labels', 'init_normal',
    'concat_label_maps', 'ELEGANT', 'ELEGANTGenerator',
    'ELEGANTDiscriminator', 'Normalization', 'attribute_chunks', 'exchange',
    'DNAGAN', 'DNAGANGenerator', 'DNAGANDiscriminator', 'attribute_pieces',
    'annihilate', 'swap', 'ReconstructionError', 'EditedAttributeAccuracy',
    'AttributeTransferFID', 'AttributeTransferVisualizationHook', 'edit_grid'
]
