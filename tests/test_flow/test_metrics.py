"""EPE and Fl against hand computations, via mmengine's Evaluator."""
import math

import pytest
import torch
from mmengine.evaluator import Evaluator

from mmext.flow import FlowDataSample
from mmext.flow.evaluation import EndPointError, FlowOutliers


def _sample(pred, gt, valid=None):
    sample = FlowDataSample(metainfo=dict(img1_path='x.png'))
    sample.pred_flow_fw = torch.tensor(pred, dtype=torch.float32)
    sample.gt_flow_fw = torch.tensor(gt, dtype=torch.float32)
    if valid is not None:
        sample.gt_valid_fw = torch.tensor(valid, dtype=torch.float32)[None]
    return sample


def _evaluate(samples, **kwargs):
    evaluator = Evaluator([
        dict(type='mmext.EndPointError', **kwargs),
        dict(type='mmext.FlowOutliers', **kwargs)
    ])
    # mmengine hands metrics the samples as dicts (to_dict()).
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def _two_images():
    """Image A: 1 valid pixel of 4 (EPE 4, an outlier); image B: 3 valid
    pixels of 6 (EPE 1 each, inliers) plus a NaN ground truth marked valid."""
    zeros_a = [[[0., 0.], [0., 0.]], [[0., 0.], [0., 0.]]]
    pred_a = [[[4., 9.], [9., 9.]], [[0., 9.], [9., 9.]]]
    a = _sample(pred_a, zeros_a, [[1, 0], [0, 0]])
    gt_b = [[[0., 0., 0.], [0., 0., float('nan')]],
            [[0., 0., 0.], [0., 0., 0.]]]
    pred_b = [[[1., 0., 0.], [5., 5., 5.]], [[0., 1., 1.], [5., 5., 5.]]]
    b = _sample(pred_b, gt_b, [[1, 1, 1], [0, 0, 1]])
    return [a, b]


def test_all_pixels_convention():
    metrics = _evaluate(_two_images())
    # Over all valid pixels of the set: (4 + 1 + 1 + 1) / 4 and 1 of 4.
    assert metrics['EPE'] == pytest.approx(7 / 4)
    assert metrics['Fl'] == pytest.approx(25.)


def test_per_image_average():
    metrics = _evaluate(_two_images(), average='image')
    assert metrics['EPE'] == pytest.approx((4 + 1) / 2)
    assert metrics['Fl'] == pytest.approx((100 + 0) / 2)


def test_outlier_needs_both_thresholds_and_missing_mask_counts_all():
    # EPE 4 > 3 px but < 5% of |gt| = 100: an inlier; EPE 2: an inlier;
    # EPE 4 on |gt| = 10: an outlier. No valid mask: every pixel counts.
    gt = [[[100., 10., 0.]], [[0., 0., 0.]]]
    pred = [[[104., 14., 2.]], [[0., 0., 0.]]]
    metrics = _evaluate([_sample(pred, gt)])
    assert metrics['Fl'] == pytest.approx(100 / 3)
    assert metrics['EPE'] == pytest.approx(10 / 3)


def test_metric_direct_use_and_errors():
    metric = EndPointError()
    metric.process(None, [s.to_dict() for s in _two_images()])
    assert metric.compute_metrics(metric.results) == {'EPE': 1.75}
    empty = FlowOutliers()
    empty.process(None, [_sample([[[1.]], [[1.]]], [[[0.]], [[0.]]],
                                 [[0]]).to_dict()])
    assert math.isnan(empty.compute_metrics(empty.results)['Fl'])
    with pytest.raises(ValueError, match='differ in shape.*x.png'):
        metric.process(None, [_sample([[[1., 2.]], [[1., 2.]]],
                                      [[[0.]], [[0.]]]).to_dict()])
    with pytest.raises(ValueError, match='average'):
        EndPointError(average='batch')
