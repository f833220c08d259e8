"""Real photographs that ship inside installed packages (scikit-image and
scikit-learn), the project's offline source of natural images.

The Middlebury stereo pair of scikit-image is deliberately not among them: it
is held out as real evaluation data with ground truth.
"""
import functools
import types

import numpy as np

__all__ = ['SKIMAGE_PHOTOS', 'SKLEARN_PHOTOS', 'shipped_photos']

SKIMAGE_PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket',
                  'immunohistochemistry', 'hubble_deep_field', 'camera',
                  'coins', 'grass', 'gravel', 'brick', 'clock')
SKLEARN_PHOTOS = ('china.jpg', 'flower.jpg')


@functools.lru_cache(maxsize=1)
def shipped_photos():
    """All the photos as ``{name: (H, W, 3) uint8 RGB}`` (grey ones repeated
    over three channels), read from the installed packages, no download.

    The result is cached, so it is read-only: a read-only mapping of
    read-only arrays (writing raises instead of corrupting every later
    caller's photos); copy a photo to change it.
    """
    import skimage.data
    from sklearn.datasets import load_sample_image

    photos = {name: getattr(skimage.data, name)() for name in SKIMAGE_PHOTOS}
    photos.update({name: load_sample_image(name) for name in SKLEARN_PHOTOS})
    for name, image in photos.items():
        image = np.ascontiguousarray(np.broadcast_to(
            image[..., None], image.shape + (3, )) if image.ndim == 2 else image)
        image.flags.writeable = False
        photos[name] = image
    return types.MappingProxyType(photos)
