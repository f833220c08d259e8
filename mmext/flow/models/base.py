"""The base of flow estimators: mmengine's (inputs, data_samples, mode) interface."""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmext.registry import MODELS
from ..structures import FlowDataSample


def build_component(cfg: dict, **default_args) -> nn.Module:
    """Build ``cfg`` from mmext's MODELS, looking names up in scope ``mmext``.

    The scope is pinned because an estimator named cross-scope (``mmext.RAFT``
    under another default scope) would otherwise look its parts up in the caller's
    registry. A type written with an explicit scope (``mmrazor.X``) still resolves.
    """
    cfg = dict(cfg)
    cfg.setdefault('_scope_', 'mmext')
    return MODELS.build(cfg, default_args=default_args or None)


class InputPadder:
    """Replicate-pads images so H and W divide ``divisor``, and crops results back.

    The padding is split evenly between the two sides, as RAFT's ``InputPadder``
    does for Sintel.

    Args:
        size (Tuple[int, int]): (H, W) of the unpadded images.
        divisor (int): H and W are padded up to multiples of it.
    """

    def __init__(self, size: Tuple[int, int], divisor: int) -> None:
        pad_h, pad_w = (-size[0] % divisor), (-size[1] % divisor)
        self.left, self.top = pad_w // 2, pad_h // 2
        self.right, self.bottom = pad_w - self.left, pad_h - self.top

    def pad(self, x: Tensor) -> Tensor:
        if not (self.left or self.right or self.top or self.bottom):
            return x
        return F.pad(
            x, (self.left, self.right, self.top, self.bottom),
            mode='replicate')

    def unpad(self, x: Tensor) -> Tensor:
        H, W = x.shape[-2:]
        return x[..., self.top:H - self.bottom, self.left:W - self.right]


class FlowEstimator(BaseModel, metaclass=ABCMeta):
    """An optical-flow model on mmengine's ``forward(inputs, data_samples, mode)``.

    ``inputs`` is the (B, 6, H, W) output of the data preprocessor: two normalised
    images stacked on channels. Sizes that ``size_divisor`` does not divide are
    padded here and the flow is cropped back, so predictions and losses are at the
    input size. Modes:

    - ``'loss'``: dict of named scalar losses against ``gt_flow_fw`` (and
      ``gt_valid_fw`` where present) of the data samples. Non-finite ground truth
      is invalid. A valid mask is always passed on (ones where the sample has
      none), as mmflow's training pipelines always produce one.
    - ``'predict'``: the data samples (new ones if None) with ``pred_flow_fw``.
    - ``'tensor'``: the final flow, (B, 2, H, W).

    Subclasses implement :meth:`estimate` and :meth:`flow_loss`.

    Args:
        data_preprocessor (dict | nn.Module, optional): The preprocessor, or its
            config, built in scope ``mmext``. None uses the class attribute
            ``default_data_preprocessor``.
        train_cfg (dict, optional): Training settings. Defaults to None.
        test_cfg (dict, optional): Test settings. Defaults to None.
        init_cfg (dict | list, optional): Weight initialisation. Defaults to None.
    """

    size_divisor = 8
    default_data_preprocessor = dict(type='FlowDataPreprocessor')

    def __init__(self,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = self.default_data_preprocessor
        if isinstance(data_preprocessor, dict):
            data_preprocessor = build_component(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    @abstractmethod
    def estimate(self, imgs: Tensor, test_mode: bool) -> List[Tensor]:
        """Flows for images whose H and W ``size_divisor`` divides.

        Args:
            imgs (Tensor): (B, 6, H, W) image pairs.
            test_mode (bool): Whether to use the test settings; only the
                final flow is needed then, and may be all that is returned.

        Returns:
            List[Tensor]: (B, 2, H, W) flows, the final one last.
        """

    @abstractmethod
    def flow_loss(self, flow_preds: List[Tensor], flow_gt: Tensor,
                  valid: Tensor) -> Dict[str, Tensor]:
        """Named losses of the predictions of :meth:`estimate`.

        Args:
            flow_preds (List[Tensor]): (B, 2, H, W) flows at the input size.
            flow_gt (Tensor): (B, 2, H, W) ground truth, non-finite values zeroed.
            valid (Tensor): (B, H, W) validity, 0 or 1.
        """

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[Sequence[FlowDataSample]] = None,
                mode: str = 'tensor'):
        """Dispatch to :meth:`loss`, :meth:`predict` or :meth:`_forward`."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(
            f'invalid mode "{mode}": use loss, predict or tensor')

    def loss(self, inputs: Tensor,
             data_samples: Sequence[FlowDataSample]) -> Dict[str, Tensor]:
        """Losses against the data samples' ``gt_flow_fw``/``gt_valid_fw``."""
        flow_gt, valid = self._ground_truth(data_samples)
        return self.flow_loss(
            self._flows(inputs, test_mode=False), flow_gt, valid)

    def predict(
        self,
        inputs: Tensor,
        data_samples: Optional[Sequence[FlowDataSample]] = None
    ) -> List[FlowDataSample]:
        """The data samples (new ones if None) with ``pred_flow_fw`` set."""
        flow = self._flows(inputs, test_mode=True)[-1].detach()
        if data_samples is None:
            data_samples = [FlowDataSample() for _ in range(len(flow))]
        for sample, sample_flow in zip(data_samples, flow):
            sample.pred_flow_fw = sample_flow
        return list(data_samples)

    def _forward(
            self,
            inputs: Tensor,
            data_samples: Optional[Sequence[FlowDataSample]] = None) -> Tensor:
        return self._flows(inputs, test_mode=True)[-1]

    def _flows(self, inputs: Tensor, test_mode: bool) -> List[Tensor]:
        padder = InputPadder(inputs.shape[-2:], self.size_divisor)
        flows = self.estimate(padder.pad(inputs), test_mode)
        return [padder.unpad(flow) for flow in flows]

    @staticmethod
    def _ground_truth(
            data_samples: Sequence[FlowDataSample]) -> Tuple[Tensor, Tensor]:
        flow_gt = torch.stack([s.gt_flow_fw.data
                               for s in data_samples]).float()
        valid = torch.stack([
            torch.ones_like(flow_gt[0, 0]) if s.gt_valid_fw is None else
            s.gt_valid_fw.data.reshape(flow_gt.shape[-2:]).to(flow_gt)
            for s in data_samples
        ])
        finite = torch.isfinite(flow_gt).all(dim=1)
        # Zeroed rather than only masked: NaN * 0 would still poison the loss.
        flow_gt = torch.where(finite[:, None], flow_gt,
                              torch.zeros_like(flow_gt))
        return flow_gt, valid * finite
