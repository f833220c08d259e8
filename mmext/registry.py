"""mmext's registries, for parts that have no importable upstream.

Each node is a child of mmengine's root of the same name, in scope ``mmext``.
Optical flow lives here because mmflow cannot be imported beside mmcv 2.x; parts
that extend mmpretrain, mmrazor or mmagic register in those packages' own
registries instead, so that upstream configs name them directly.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

__all__ = [
    'MODELS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'METRICS', 'HOOKS',
    'LOOPS', 'TASK_UTILS', 'VISUALIZERS', 'VISBACKENDS'
]

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmext',
                  locations=['mmext.flow.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmext',
                    locations=['mmext.flow.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS,
                         scope='mmext', locations=['mmext.flow.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmext',
                      locations=['mmext.flow.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmext',
                   locations=['mmext.flow.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmext',
                 locations=['mmext.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='mmext',
                 locations=['mmext.engine'])
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope='mmext',
                      locations=['mmext.flow.models'])
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS,
                       scope='mmext', locations=['mmext.flow.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS,
                       scope='mmext', locations=['mmext.flow.visualization'])
