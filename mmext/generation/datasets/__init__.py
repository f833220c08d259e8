"""CelebA in its real layout, and the embedded procedural stand-in written in
the same layout."""
from .celeba import (CELEBA_ATTRIBUTES, CelebAAttributePairs, CelebAAttributes,
                     read_celeba, read_landmark_file, select_attributes)
from .procedural_faces import (PROCEDURAL_ATTRIBUTES, make_procedural_faces,
                               render_face)

__all__ = [
    'CELEBA_ATTRIBUTES', 'CelebAAttributePairs', 'CelebAAttributes',
    'read_celeba', 'read_landmark_file', 'select_attributes',
    'PROCEDURAL_ATTRIBUTES', 'make_procedural_faces', 'render_face'
]
