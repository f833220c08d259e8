"""The data sample that carries one image pair's flow through mmext's flow stack.

Field names follow mmflow 1.x (``gt_flow_fw``, ``pred_flow_fw``, ``gt_valid_fw``) so
that mmflow users' hooks and metrics read the same keys.
"""
from mmengine.structures import BaseDataElement, PixelData


def _pixel_field(name: str) -> property:
    """A data field stored as :class:`PixelData`; plain tensors are wrapped."""

    def getter(self):
        return self.get('_' + name)

    def setter(self, value):
        if not isinstance(value, PixelData):
            value = PixelData(data=value)
        self.set_field(value, '_' + name, dtype=PixelData)

    def deleter(self):
        delattr(self, '_' + name)

    return property(getter, setter, deleter)


class FlowDataSample(BaseDataElement):
    """Ground truth and prediction of the forward flow of one image pair.

    Fields (each a :class:`PixelData` whose ``data`` is a tensor):
        gt_flow_fw: ground-truth flow, shape (2, H, W), (u, v) in pixels.
        gt_valid_fw: validity mask, shape (1, H, W), 1 where the ground truth is
            defined. Non-finite ground truth is always treated as invalid.
        pred_flow_fw: predicted flow, shape (2, H, W).

    Meta information (``metainfo``) holds ``img1_path``, ``img2_path``, ``ori_shape``
    and ``img_shape`` as produced by the data pipeline.
    """

    gt_flow_fw = _pixel_field('gt_flow_fw')
    gt_valid_fw = _pixel_field('gt_valid_fw')
    pred_flow_fw = _pixel_field('pred_flow_fw')
