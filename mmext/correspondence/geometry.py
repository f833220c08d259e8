"""Coordinates on feature grids: cell centres, soft-argmax, rotated crops.

Coordinates are continuous pixel coordinates (x, y): pixel ``i`` covers
``[i, i + 1)``, so its centre is ``i + 0.5``, and a feature cell of stride
``s`` has its centre at ``(j + 0.5) * s``. The stride is the network's nominal
one (16 for ResNet layer3), not image size / feature size: a padded stride-2
layer rounds its output size up, so a 100 px image gives 7 cells at stride 16
and ``100 / 7`` would misplace every cell after the first.
"""
import math

import torch
import torch.nn.functional as F

__all__ = ['cell_centres', 'soft_argmax', 'rotated_crop', 'apply_affine']


def cell_centres(height, width, stride, device=None):
    """Pixel coordinates of the centres of a ``height x width`` grid of cells
    ``stride`` pixels apart.

    Args:
        height, width (int): The grid's size in cells.
        stride (float): Pixels per cell, the network's nominal stride.
        device (torch.device, optional): Where the result lives.

    Returns:
        Tensor: (height * width, 2) as (x, y), row-major like ``flatten(2)``.
    """
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) * stride
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
    return torch.stack([grid_x.flatten(), grid_y.flatten()], dim=-1)


def soft_argmax(similarity, coordinates, temperature):
    """Expected coordinates under ``softmax(similarity / temperature)``.

    Args:
        similarity (Tensor): (..., P) scores over P candidate cells.
        coordinates (Tensor): (P, 2) coordinates of the candidates.
        temperature (float): Softmax temperature; small is close to argmax.

    Returns:
        Tensor: (..., 2).
    """
    return torch.softmax(similarity / temperature, dim=-1) @ coordinates


def apply_affine(matrix, points):
    """Map (N, P, 2) points by (N, 2, 3) affine matrices."""
    return points @ matrix[:, :, :2].transpose(1, 2) + matrix[:, None, :, 2]


def rotated_crop(images, centres, crop_size, angles, flips):
    """Square crops of ``images`` rotated by ``angles`` about ``centres``,
    mirrored where ``flips``, and the affine map from crop to image pixels.

    Args:
        images (Tensor): (N, C, H, W).
        centres (Tensor): (N, 2) crop centres (x, y) in image pixels.
        crop_size (int): Side of the crop in pixels.
        angles (Tensor): (N,) rotations in degrees.
        flips (Tensor): (N,) bool, mirror the crop horizontally.

    Returns:
        tuple[Tensor, Tensor]: crops (N, C, S, S) and (N, 2, 3) matrices
        taking crop pixel coordinates to image pixel coordinates.
    """
    n, _, height, width = images.shape
    theta = angles.to(images) * math.pi / 180
    cos, sin = torch.cos(theta), torch.sin(theta)
    mirror = 1.0 - 2.0 * flips.to(images)
    # image = centre + R(theta) @ diag(mirror, 1) @ (crop - S/2)
    linear = torch.stack([
        torch.stack([cos * mirror, -sin], dim=-1),
        torch.stack([sin * mirror, cos], dim=-1)
    ], dim=1)
    half = torch.full((n, 2, 1), crop_size / 2, device=images.device)
    offset = centres.to(images)[..., None] - linear @ half
    crop_to_image = torch.cat([linear, offset], dim=-1)

    pixels = cell_centres(crop_size, crop_size, 1,
                          images.device).expand(n, -1, -1)
    source = apply_affine(crop_to_image, pixels)
    scale = source.new_tensor([2 / width, 2 / height])
    grid = (source * scale - 1).view(n, crop_size, crop_size, 2)
    crops = F.grid_sample(images, grid, mode='bilinear', align_corners=False)
    return crops, crop_to_image
