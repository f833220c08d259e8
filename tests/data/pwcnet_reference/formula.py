"""Closed-form weights and inputs for the mmflow PWC-Net parity test.

Both the reference side (``make_reference.py``, run in an mmflow 0.5.2 venv) and the
test side (``tests/test_flow/test_pwcnet.py``, run in mmext's venv) import this file,
so the recorded numbers depend on nothing but these formulas.

The weights are pseudo-random but large enough that the finer levels predict flows of
tens of pixels, so warping, masking and the cost volume at large displacements all
take part.
"""
import zlib

import torch

__all__ = ['closed_form_state_dict', 'closed_form_inputs']


def closed_form_state_dict(reference):
    """Deterministic weights for every entry of ``reference`` (a state dict).

    A hash of sin(k) gives values uniform in [-1, 1]; weights are scaled by
    2.45 / sqrt(fan-in) (variance about 2 / fan-in), biases by 0.05.
    """
    out = {}
    for name, tensor in reference.items():
        phase = zlib.crc32(name.encode()) % 997 / 97.
        k = torch.arange(tensor.numel(), dtype=torch.float64)
        base = torch.frac(torch.sin(k * 12.9898 + phase).abs() * 43758.5453)
        base = base * 2 - 1
        scale = (2.45 * tensor[0].numel()**-0.5
                 if name.endswith('weight') else 0.05)
        out[name] = (base * scale).view(tensor.shape).float()
    return out


def closed_form_inputs():
    """A (1, 6, 64, 64) smooth image pair in [0, 1] and a (1, 2, 64, 64) flow."""
    y, x = torch.meshgrid(
        torch.arange(64.), torch.arange(64.), indexing='ij')

    def image(dx, dy):
        return torch.stack([
            0.5 + 0.25 * torch.sin(0.3 * (x - dx) + 0.2 * (y - dy) + c) +
            0.2 * torch.cos(0.17 * (x - dx) - 0.23 * (y - dy) + 2 * c)
            for c in range(3)
        ])

    imgs = torch.cat([image(0, 0), image(3, -2)])[None]
    gt = torch.stack([3 + torch.sin(0.1 * x), -2 + torch.cos(0.13 * y)])[None]
    return imgs, gt
