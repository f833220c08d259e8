"""mmpretrain classification heads."""
from .name_init_head import DatasetClassNamesHook, NameInitClsHead

__all__ = ['DatasetClassNamesHook', 'NameInitClsHead']
