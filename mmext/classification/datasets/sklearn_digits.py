"""scikit-learn's bundled handwritten digits as an mmpretrain dataset.

1,797 real 8x8 greyscale digits (UCI) ship inside the scikit-learn wheel, so this
is real data that needs no download: the default for small end-to-end runs.
"""
import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class SklearnDigits(BaseDataset):
    """The digits of :func:`sklearn.datasets.load_digits`, split train/test.

    Images are uint8 HxWx3 arrays (the 0-16 intensities scaled to 0-255 and
    repeated over three channels), so mmpretrain's pipelines apply unchanged;
    pipelines start after loading (no ``LoadImageFromFile``).

    Args:
        split (str): ``'train'`` or ``'test'``. The split is stratified and
            fixed (seed 0), ``test_ratio`` of each class in the test split.
        test_ratio (float): Fraction of the images held out. Defaults to 0.2.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``indices``, ``test_mode``, ...).
    """

    METAINFO = {'classes': tuple(str(d) for d in range(10))}

    def __init__(self, split='train', test_ratio=0.2, **kwargs):
        if split not in ('train', 'test'):
            raise ValueError(
                f"SklearnDigits split must be 'train' or 'test', got {split!r}")
        self.split = split
        self.test_ratio = test_ratio
        kwargs.setdefault('ann_file', '')
        super().__init__(**kwargs)

    def load_data_list(self):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        indices = np.arange(len(digits.target))
        train_idx, test_idx = train_test_split(
            indices,
            test_size=self.test_ratio,
            random_state=0,
            stratify=digits.target)
        chosen = np.sort(train_idx if self.split == 'train' else test_idx)
        images = np.round(digits.images * (255 / 16)).astype(np.uint8)
        return [
            dict(
                img=np.repeat(images[i][..., None], 3, axis=2),
                gt_label=int(digits.target[i])) for i in chosen
        ]
