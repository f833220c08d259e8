"""EPE and Fl against hand computations, via mmengine's Evaluator."""
import logging
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger

from mmext.flow import FlowDataSample
from mmext.flow.evaluation import EndPointError, FlowOutliers
from tests.conftest import REPO


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


NAN, INF = float('nan'), float('inf')


@pytest.fixture
def warnings_logged():
    """The non-finite warnings the metrics log to mmengine's current logger
    (mmengine's own, such as the unset prefix, left out)."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: 'non-finite' in record.getMessage() and \
        records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_non_finite_predictions_are_outliers_and_spoil_epe(warnings_logged):
    # Counted pixels: a NaN prediction, an infinite one and an inlier (EPE 1);
    # the fourth pixel is invalid and its NaN does not count.
    gt = [[[0., 0., 0., 0.]], [[0., 0., 0., 0.]]]
    pred = [[[NAN, INF, 1., NAN]], [[0., 0., 0., 0.]]]
    metrics = _evaluate([_sample(pred, gt, [[1, 1, 1, 0]])])
    assert metrics['Fl'] == pytest.approx(200 / 3)
    assert math.isnan(metrics['EPE'])  # nan + inf + 1
    assert warnings_logged == [
        'EPE: 2 of 3 counted pixels have a non-finite predicted flow (NaN or '
        'inf), in 1 of 1 images; EPE is not finite',
        'Fl: 2 of 3 counted pixels have a non-finite predicted flow (NaN or '
        'inf), in 1 of 1 images; they count as outliers'
    ]


def test_infinite_prediction_gives_infinite_epe_per_image_too(
        warnings_logged):
    gt = [[[0., 0.]], [[0., 0.]]]
    finite = _sample([[[1., 1.]], [[0., 0.]]], gt)
    infinite = _sample([[[1., -INF]], [[0., 0.]]], gt)
    metrics = _evaluate([finite, infinite], average='image')
    assert metrics['EPE'] == INF
    assert metrics['Fl'] == pytest.approx((0 + 50) / 2)
    assert len(warnings_logged) == 2
    assert '1 of 4 counted pixels' in warnings_logged[0]
    assert 'in 1 of 2 images' in warnings_logged[0]


def test_nan_model_scores_every_pixel_an_outlier(warnings_logged):
    gt = [[[0., 5.], [1., 0.]], [[0., 0.], [2., 0.]]]
    pred = torch.full((2, 2, 2), NAN).tolist()
    metrics = _evaluate([_sample(pred, gt)])
    assert metrics['Fl'] == 100.
    assert math.isnan(metrics['EPE'])
    assert all('4 of 4 counted pixels' in m for m in warnings_logged)


def test_finite_predictions_do_not_warn(warnings_logged):
    _evaluate(_two_images())
    assert warnings_logged == []
    # ... while the same metrics do warn at the first non-finite pixel.
    samples = _two_images()
    samples[1].pred_flow_fw.data[0, 0, 0] = NAN
    _evaluate(samples)
    assert len(warnings_logged) == 2


def test_kitti_config_averages_epe_per_image_and_pools_fl():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets',
                 'kitti2015_raft_288x960.py'))
    assert cfg.test_evaluator == cfg.val_evaluator
    evaluator = Evaluator([dict(c, type='mmext.' + c['type'])
                           for c in cfg.val_evaluator])
    evaluator.process(_two_images())
    metrics = evaluator.evaluate(2)
    # Image A: 1 pixel, EPE 4, an outlier; image B: 3 pixels, EPE 1, inliers.
    assert metrics['EPE'] == pytest.approx((4 + 1) / 2)  # not 7 / 4
    assert metrics['Fl'] == pytest.approx(100 * 1 / 4)  # not (100 + 0) / 2
