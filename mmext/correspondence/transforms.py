"""Transforms of image pairs (see :mod:`.datasets` for the keys)."""
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.registry import TRANSFORMS

__all__ = ['LoadImagePair', 'ResizePair', 'PairViews']

SIDES = ('src', 'trg')


@TRANSFORMS.register_module()
class LoadImagePair(BaseTransform):
    """Read ``src_img`` / ``trg_img`` (BGR, as mmpretrain's
    ``LoadImageFromFile``) unless the dataset gave arrays, mirror them where
    ``flip`` is set, and record ``<side>_ori_shape``."""

    def transform(self, results):
        for side in SIDES:
            if f'{side}_img' not in results:
                path = results[f'{side}_img_path']
                image = mmcv.imread(path)
                if image is None:
                    raise FileNotFoundError(f'cannot read image {path}')
                if results.get('flip'):
                    image = np.ascontiguousarray(image[:, ::-1])
                results[f'{side}_img'] = image
            results[f'{side}_ori_shape'] = results[f'{side}_img'].shape[:2]
        return results


@TRANSFORMS.register_module()
class ResizePair(BaseTransform):
    """Resize both images to ``scale`` (w, h); source keypoints follow.

    Target keypoints stay in the original target frame, where PCK is
    measured; ``trg_scale_factor`` (sx, sy) maps predictions back.

    Args:
        scale (tuple[int, int]): Output (width, height).
    """

    def __init__(self, scale):
        self.scale = tuple(scale)

    def transform(self, results):
        for side in SIDES:
            height, width = results[f'{side}_img'].shape[:2]
            results[f'{side}_img'] = mmcv.imresize(results[f'{side}_img'],
                                                   self.scale)
            results[f'{side}_scale_factor'] = np.array(
                [self.scale[0] / width, self.scale[1] / height], np.float32)
        if 'src_kps' in results:
            results['src_kps'] = results['src_kps'] * results['src_scale_factor']
        return results


@TRANSFORMS.register_module()
class PairViews(BaseTransform):
    """Images 1 and 2 of the cycle loss: the source and target images through
    ``pipeline`` (which must give them one size), as the list ``img``
    (like mmpretrain's ``MultiView``).

    Args:
        pipeline (list[dict]): Transforms of each image (e.g. a fixed-size
            resize and colour jitter).
    """

    def __init__(self, pipeline):
        self.pipeline = Compose(pipeline)

    def transform(self, results):
        results['img'] = [
            self.pipeline(dict(img=results[f'{side}_img']))['img']
            for side in SIDES
        ]
        return results
