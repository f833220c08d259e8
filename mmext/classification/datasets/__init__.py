from .sklearn_digits import SklearnDigits

__all__ = ['SklearnDigits']
from .few_shot import FewShotDataset  # noqa: E402

__all__ += ['FewShotDataset']
