"""mmcv 1.7.2's ``Correlation`` forward on the CPU: a transcription of
``correlation_forward_cuda_kernel`` (``mmcv/ops/csrc/common/cuda/correlation_cuda.cuh``)
and of its launcher (``mmcv/ops/csrc/pytorch/cuda/correlation_cuda.cu``).

mmcv ships this operator for CUDA only, so ``make_reference.py`` swaps this module in
for it inside mmflow's PWC-Net. Only the forward pass is transcribed (the reference
runs under ``no_grad``).

The kernel's loops are kept one for one (``ph``, ``pw``, ``i``, ``j``, the channel loop
``c = lane, lane + 32, ...`` and the warp's ``__shfl_down_sync`` tree), in the same
float32 summation order; the thread grid (n, h, w) and the 32 lanes of a warp are
vectorised. One difference can remain in the last bit: nvcc may contract
``prod_sum += v1 * v2`` into a fused multiply-add, which the CPU does not.
"""
import torch
from torch import Tensor, nn

WARP_SIZE = 32


def correlation_forward(input1: Tensor, input2: Tensor, kH: int, kW: int,
                        patchH: int, patchW: int, padH: int, padW: int,
                        dilationH: int, dilationW: int, dilation_patchH: int,
                        dilation_patchW: int, dH: int, dW: int) -> Tensor:
    """The launcher and kernel: (N, C, iH, iW) x 2 -> (N, patchH, patchW, oH, oW)."""
    N, C, iH, iW = input1.shape
    oH = int((iH + 2 * padH - ((kH - 1) * dilationH + 1)) / dH + 1)
    oW = int((iW + 2 * padW - ((kW - 1) * dilationW + 1)) / dW + 1)
    # The launcher permutes both inputs to (N, H, W, C).
    rInput1 = input1.permute(0, 2, 3, 1).contiguous()
    rInput2 = input2.permute(0, 2, 3, 1).contiguous()
    output = input1.new_zeros(N, patchH, patchW, oH, oW)

    h = torch.arange(oH)[:, None]  # the thread grid: one (h, w) per thread
    w = torch.arange(oW)[None, :]
    start_i = -padH + h * dH
    start_j = -padW + w * dW
    patchRadH = dilation_patchH * (patchH - 1) // 2
    patchRadW = dilation_patchW * (patchW - 1) // 2
    # Lane t of the warp visits channels t, t + 32, ...; pad C to whole rounds.
    rounds = -(-C // WARP_SIZE)

    def gather(tensor, rows, cols, inside):
        values = tensor[:, rows.clamp(0, iH - 1), cols.clamp(0, iW - 1)]
        values = values * inside[None, :, :, None]
        values = nn.functional.pad(values, (0, rounds * WARP_SIZE - C))
        return values.view(N, oH, oW, rounds, WARP_SIZE)

    for ph in range(patchH):
        ph_dilated = ph * dilation_patchH - patchRadH
        for pw in range(patchW):
            pw_dilated = pw * dilation_patchW - patchRadW
            prod_sum = input1.new_zeros(N, oH, oW, WARP_SIZE)
            for i in range(kH):
                i1 = start_i + i * dilationH
                i2 = i1 + ph_dilated
                rows_inside = (i1 >= 0) & (i1 < iH) & (i2 >= 0) & (i2 < iH)
                for j in range(kW):
                    j1 = start_j + j * dilationW
                    j2 = j1 + pw_dilated
                    inside = rows_inside & (j1 >= 0) & (j1 < iW) & (
                        j2 >= 0) & (j2 < iW)
                    v1 = gather(rInput1, i1.expand(oH, oW),
                                j1.expand(oH, oW), inside)
                    v2 = gather(rInput2, i2.expand(oH, oW),
                                j2.expand(oH, oW), inside)
                    for c in range(rounds):
                        # Skipped (out-of-bounds) pixels add exact zeros.
                        prod_sum = prod_sum + v1[..., c, :] * v2[..., c, :]
            # __shfl_down_sync: lane t adds lane t + offset's value (lanes past
            # the end read their own, which only lanes > 0 ever use).
            for offset in (16, 8, 4, 2, 1):
                shifted = torch.cat(
                    [prod_sum[..., offset:], prod_sum[..., WARP_SIZE - offset:]],
                    dim=-1)
                prod_sum = prod_sum + shifted
            output[:, ph, pw] = prod_sum[..., 0]
    return output


class CorrelationCPU(nn.Module):
    """Drop-in for ``mmcv.ops.Correlation`` (same arguments and attributes)."""

    def __init__(self, kernel_size=1, max_displacement=1, stride=1, padding=0,
                 dilation=1, dilation_patch=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.max_displacement = max_displacement
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.dilation_patch = dilation_patch

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        patch = 2 * self.max_displacement + 1
        return correlation_forward(
            input1, input2, self.kernel_size, self.kernel_size, patch, patch,
            self.padding, self.padding, self.dilation, self.dilation,
            self.dilation_patch, self.dilation_patch, self.stride, self.stride)
