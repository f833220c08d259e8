"""Closed-form weights and images for the mmflow RAFT parity fixture.

Both the reference side (``make_reference.py``, run in an mmflow 0.5.2 venv) and the
test side (``tests/test_flow/test_mmflow_parity.py``, run in mmext's venv) import this
file, so the fixture never has to ship 5 M float weights: only the formula.

Why no random numbers: ``torch.randn`` / ``np.random`` streams are not promised to
stay the same across versions, platforms or devices. Every value here comes from
exact integer arithmetic instead, so it is bit-identical everywhere:

* a tensor's *seed* is ``zlib.crc32(name)``, which depends on the parameter name only
  (not on the order in which a model lists its state dict);
* element ``n`` of a tensor gets the 32-bit integer hash
  ``h(n) = (n*n*K1 + n*K2 + seed*K3) mod 2**32`` computed in int64 (the products are
  masked before they could overflow), mapped to ``v = 2*h/2**32 - 1`` in ``[-1, 1)``;
  both steps are exact in float64, and the one cast to float32 rounds identically on
  every IEEE machine.

The hash ``v`` is then scaled per kind of tensor (see :func:`formula_tensor`) so that
activations stay O(1) through the encoders, the 12 GRU iterations and the convex
upsampling.

The images use smooth sinusoidal textures (float64 numpy ``sin``), rounded to uint8.
Libm differences could at worst flip a value that lands exactly on .5, so the PNGs
written by ``make_reference.py`` are the source of truth for the images, and
:func:`formula_images` only documents and regenerates them.
"""
import math
import zlib

import numpy as np
import torch

__all__ = ['formula_tensor', 'formula_state_dict', 'formula_images',
           'FLOW_DISPLACEMENT']

_MASK32 = 0xFFFFFFFF
# Odd 31-bit multipliers (Knuth's golden-ratio constant and two other large odd
# numbers); any odd constants would do, these just mix bits well.
_K1 = 2654435761 & 0x7FFFFFFF
_K2 = 2246822519 & 0x7FFFFFFF
_K3 = 3266489917 & 0x7FFFFFFF

#: Extra gain on top of the fan-in scaling, by name suffix. The flow head's output is
#: added to the flow every iteration, so a smaller gain keeps the 12-step flow within
#: a few cells of the 1/8 grid (sampling far outside the cost volume would read zeros
#: and make the test insensitive to the correlation lookup).
_GAINS = {
    'decoder.flow_pred.predict_layer.weight': 0.5,
}


def _hash_unit(numel: int, seed: int) -> torch.Tensor:
    """``numel`` values in [-1, 1), float64, from exact int64 arithmetic."""
    n = torch.arange(numel, dtype=torch.int64)
    n2 = (n * n) & _MASK32  # < 2**32, so n2 * _K1 < 2**63: no overflow
    h = (n2 * _K1) & _MASK32
    h = (h + ((n * _K2) & _MASK32) + ((seed * _K3) & _MASK32)) & _MASK32
    return h.to(torch.float64) * (2.0 / 2**32) - 1.0


def formula_tensor(name: str, shape) -> torch.Tensor:
    """The value of one state-dict entry, chosen by its name and shape.

    Rules (``v`` is the hash in [-1, 1), mean 0, variance 1/3):

    * ``*.num_batches_tracked``: int64 scalar ``crc32(name) % 1000``.
    * ``*.running_var``: ``1 + 0.25 v`` (in [0.75, 1.25], strictly positive).
    * ``*.running_mean``: ``0.1 v``.
    * other 1-D ``*.weight`` (BatchNorm scale): ``1 + 0.1 v``.
    * ``*.bias``: ``0.05 v``.
    * N-D ``*.weight`` (convolutions): ``gain * sqrt(3 / fan_in) * v``, i.e. variance
      ``gain**2 / fan_in`` with ``fan_in = prod(shape[1:])``, so each layer roughly
      preserves the scale of its input.
    """
    shape = tuple(int(s) for s in shape)
    seed = zlib.crc32(name.encode('utf-8'))
    if name.endswith('num_batches_tracked'):
        return torch.tensor(seed % 1000, dtype=torch.int64).reshape(shape)
    numel = math.prod(shape)
    v = _hash_unit(numel, seed).reshape(shape)
    if name.endswith('running_var'):
        out = 1.0 + 0.25 * v
    elif name.endswith('running_mean'):
        out = 0.1 * v
    elif name.endswith('.bias'):
        out = 0.05 * v
    elif len(shape) == 1:
        out = 1.0 + 0.1 * v
    else:
        fan_in = math.prod(shape[1:])
        out = _GAINS.get(name, 1.0) * math.sqrt(3.0 / fan_in) * v
    return out.to(torch.float32)


def formula_state_dict(named_shapes) -> 'dict[str, torch.Tensor]':
    """A full state dict from ``(name, shape)`` pairs (or a ``{name: shape}`` dict).

    The result keeps the given order; each value depends on its own name and shape
    only, so two models that name their tensors alike get identical values whatever
    order they register them in.
    """
    if isinstance(named_shapes, dict):
        named_shapes = named_shapes.items()
    return {name: formula_tensor(name, shape) for name, shape in named_shapes}


#: The displacement used by :func:`formula_images`: frame2(x, y) shows the texture
#: of frame1 at (x - u, y - v), with (u, v) = (FLOW_DISPLACEMENT) + a small rotation.
FLOW_DISPLACEMENT = (3.0, -2.0)


def _texture(x: np.ndarray, y: np.ndarray, c: int) -> np.ndarray:
    """A smooth multi-frequency texture in [0, 1] for colour channel ``c``."""
    t = (np.sin(0.21 * x + 0.13 * y + 1.7 * c)
         + 0.7 * np.sin(0.07 * x - 0.19 * y + 0.5 + 0.9 * c)
         + 0.5 * np.cos(0.31 * x * (1 + 0.2 * c) + 0.05 * y)
         + 0.4 * np.sin(0.011 * (x - 40) * (y - 25) + c))
    return 0.5 + t / 5.2


def formula_images(h: int, w: int):
    """A deterministic uint8 image pair, two ``(h, w, 3)`` arrays (BGR, as
    ``cv2.imread`` returns them).

    Frame 1 is a smooth texture; frame 2 is the same texture moved by a flow of
    ``FLOW_DISPLACEMENT`` pixels plus a 1.5 degree rotation about the centre, so the
    true flow varies over the image.
    """
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64),
                         np.arange(w, dtype=np.float64), indexing='ij')
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    a = math.radians(1.5)
    # Inverse warp: the frame-2 pixel (x, y) came from frame-1 point (xs, ys).
    xr, yr = xx - FLOW_DISPLACEMENT[0] - cx, yy - FLOW_DISPLACEMENT[1] - cy
    xs = math.cos(a) * xr + math.sin(a) * yr + cx
    ys = -math.sin(a) * xr + math.cos(a) * yr + cy
    img1 = np.stack([_texture(xx, yy, c) for c in range(3)], axis=-1)
    img2 = np.stack([_texture(xs, ys, c) for c in range(3)], axis=-1)
    return _to_uint8(img1), _to_uint8(img2)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
