import pytest
import torch

from mmext.flow import FlowDataSample
from mmext.flow.data_preprocessor import FlowDataPreprocessor
from mmext.registry import MODELS


def pair(values):
    """A (6, 2, 2) uint8 pair whose channel k is filled with values[k]."""
    return torch.tensor(
        values, dtype=torch.uint8).view(6, 1, 1).expand(6, 2, 2).clone()


def test_raft_normalisation_keeps_bgr():
    preprocessor = MODELS.build(
        dict(type='FlowDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3))
    samples = [FlowDataSample(), FlowDataSample()]
    out = preprocessor(
        dict(
            inputs=[pair([0, 255, 51, 0, 0, 255]),
                    pair([255] * 6)],
            data_samples=samples))
    assert out['inputs'].dtype == torch.float32
    assert out['inputs'].shape == (2, 6, 2, 2)
    torch.testing.assert_close(out['inputs'][0, :, 0, 0],
                               torch.tensor([-1., 1., -0.6, -1., -1., 1.]))
    assert torch.all(out['inputs'][1] == 1.)
    assert len(out['data_samples']) == 2
    assert isinstance(out['data_samples'][0], FlowDataSample)


def test_per_channel_statistics_apply_to_both_images():
    preprocessor = FlowDataPreprocessor(mean=[10, 20, 30], std=[1, 2, 4])
    out = preprocessor(dict(inputs=[pair([10, 20, 30, 11, 22, 34])]))
    torch.testing.assert_close(out['inputs'][0, :, 1, 1],
                               torch.tensor([0., 0., 0., 1., 1., 1.]))


def test_bgr_to_rgb_flips_each_image_before_normalising():
    preprocessor = FlowDataPreprocessor(
        mean=[1, 2, 3], std=[1, 1, 1], bgr_to_rgb=True)
    out = preprocessor(dict(inputs=[pair([10, 20, 30, 40, 50, 60])]))
    torch.testing.assert_close(out['inputs'][0, :, 0, 0],
                               torch.tensor([29., 18., 7., 59., 48., 37.]))


def test_without_statistics_only_casts_and_stacks():
    out = FlowDataPreprocessor()(
        dict(inputs=torch.stack([pair([1, 2, 3, 4, 5, 6])])))
    torch.testing.assert_close(out['inputs'][0, :, 0, 0], torch.arange(1., 7.))
    assert out['data_samples'] is None


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError):
        FlowDataPreprocessor(mean=[0, 0, 0])
    with pytest.raises(ValueError):
        FlowDataPreprocessor()(dict(inputs=[torch.zeros(3, 2, 2)]))
