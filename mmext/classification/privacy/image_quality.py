"""PSNR and SSIM per image, batched in torch.

They score the attacker's reconstructions inside the test loop, on whatever
device the model is on; scikit-image's functions (which the tests compare
against) take one numpy image at a time on the CPU.
"""
import torch
import torch.nn.functional as F

__all__ = ['psnr', 'ssim']


def psnr(prediction: torch.Tensor,
         target: torch.Tensor,
         data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of each image of a batch.

    Args:
        prediction (Tensor): ``(N, C, H, W)``.
        target (Tensor): Same shape.
        data_range (float): Span of the pixel values. Defaults to 1.0.

    Returns:
        Tensor: ``(N,)``; infinite where an image is reproduced exactly.
    """
    mse = (prediction.double() - target.double()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)


def _gaussian_window(sigma: float, truncate: float) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-offsets**2 / (2 * sigma**2))
    return kernel / kernel.sum()


def ssim(prediction: torch.Tensor,
         target: torch.Tensor,
         data_range: float = 1.0,
         sigma: float = 1.5,
         truncate: float = 3.5) -> torch.Tensor:
    """Structural similarity of each image of a batch (Wang et al. 2004:
    Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, population
    covariances, averaged over channels and over the positions where the
    window fits inside the image).

    These are the settings of ``skimage.metrics.structural_similarity(...,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=data_range, channel_axis=0)``.

    Args:
        prediction (Tensor): ``(N, C, H, W)``.
        target (Tensor): Same shape.
        data_range (float): Span of the pixel values. Defaults to 1.0.
        sigma (float): Standard deviation of the Gaussian window.
        truncate (float): Window radius in sigmas. Defaults to 3.5
            (an 11 x 11 window for sigma 1.5).

    Returns:
        Tensor: ``(N,)``.
    """
    window = _gaussian_window(sigma, truncate).to(prediction.device)
    size = window.numel()
    if min(prediction.shape[-2:]) < size:
        raise ValueError(
            f'SSIM with sigma={sigma} needs images of at least '
            f'{size} x {size} '
            f'pixels, got {tuple(prediction.shape[-2:])}')
    channels = prediction.shape[1]
    rows = window.view(1, 1, size, 1).repeat(channels, 1, 1, 1)
    cols = window.view(1, 1, 1, size).repeat(channels, 1, 1, 1)

    def blur(x):
        return F.conv2d(F.conv2d(x, rows, groups=channels),
                        cols,
                        groups=channels)

    x, y = prediction.double(), target.double()
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range)**2, (0.03 * data_range)**2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2) /
             ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)))
    return index.flatten(1).mean(1)
