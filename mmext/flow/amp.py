"""Mixed precision for flow models: fp32 islands and a bf16 optim wrapper.

Training: ``optim_wrapper = dict(type='BF16OptimWrapper', optimizer=...)`` runs
the forward under bf16 autocast on CPU or GPU; on a GPU, mmengine's own
``dict(type='AmpOptimWrapper', dtype='float16')`` gives fp16 with loss scaling.
Testing: mmengine's loop key ``test_cfg = dict(type='TestLoop', fp16=True)``
(``--amp`` of tools/test.py and demo/image_demo.py) autocasts to bf16 on CPU
and fp16 on CUDA.
"""
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast
from torch import Tensor, nn


def full_precision(like: Tensor) -> torch.autocast:
    """Suspend autocast on ``like``'s device; cast what enters to float32.

    Flow models keep the correlation, the lookup coordinates and the
    upsampling of the flow in float32 under autocast: dot products over
    hundreds of channels, pixel coordinates in the hundreds and the final flow
    lose whole pixels' worth of precision in bfloat16 (8 mantissa bits), the
    convolutions around them do not; RAFT keeps its encoders too (their
    rounding adds up through their depth into the correlation).
    """
    return torch.autocast(like.device.type, enabled=False)


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """mmengine's OptimWrapper with the forward under bfloat16 autocast.

    Written because mmengine's ``AmpOptimWrapper`` asserts a GPU (NPU, MLU)
    and so refuses CPUs, whose AVX512-BF16 units run bf16 convolutions about
    twice as fast as fp32; bf16 keeps fp32's exponent range, so no loss
    scaling is needed. Parameters, gradients and optimizer states stay fp32.

    Args:
        **kwargs: OptimWrapper's arguments (optimizer, clip_grad, ...).
    """

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        with super().optim_context(model), autocast(dtype=torch.bfloat16):
            yield
