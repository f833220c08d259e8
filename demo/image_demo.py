"""Estimate the optical flow between two images.

``python demo/image_demo.py IMG1 IMG2 CONFIG CHECKPOINT --out FLOW.flo
[--vis FLOW.png] [--compare-opencv] [--device cpu] [--amp]``

Writes the flow from IMG1 to IMG2 as a Middlebury ``.flo`` file and, with
``--vis``, its colour-wheel picture. ``--compare-opencv`` also runs OpenCV's
DIS flow (medium preset), the classical baseline a model should beat: it
prints the mean end-point difference between the two flows and how well each
warps IMG2 onto IMG1, and writes DIS's picture beside the model's
(``FLOW_opencv-dis.png``, same colour scale). The images are read and
normalised as the config's model expects (BGR, its data preprocessor); the
checkpoint must fit the model exactly (mmext/mmengine checkpoints, mmflow
model-zoo files, plain state dicts).
"""
import argparse
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner.amp import autocast
from mmengine.utils import mkdir_or_exist

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.engine import (UserError, build_model, check_not_swapped, cli_main,
                         load_config)
from mmext.flow.datasets import LoadImageFromFile, PackFlowInputs, write_flow
from mmext.flow.visualization import flow_to_color, max_flow_magnitude


def parse_args():
    parser = argparse.ArgumentParser(
        description='Optical flow between two images')
    parser.add_argument('img1', help='first image')
    parser.add_argument('img2', help='second image')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', required=True, help='output flow file (.flo)')
    parser.add_argument(
        '--vis', help='also write the colour-wheel picture (e.g. .png)')
    parser.add_argument(
        '--compare-opencv',
        action='store_true',
        help="also run OpenCV's DIS flow, print how it differs and write its "
        'picture beside the model\'s')
    parser.add_argument(
        '--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: autocast to bf16 on CPU, fp16 on CUDA (also '
        'on when the config sets test_cfg.fp16)')
    args = parser.parse_args()
    if not args.out.endswith('.flo'):
        raise UserError(f'--out must be a .flo file, got {args.out}')
    check_not_swapped(args.config, args.checkpoint)
    return args


def estimate_flow(model, img1: str, img2: str, amp: bool = False):
    """The flow (H, W, 2) from ``img1`` to ``img2`` (files), under
    mmengine's autocast if ``amp``.

    Raises:
        UserError: an image cannot be decoded, the two differ in size, or
            they are smaller than the model accepts (the message states the
            minimum).
    """
    try:
        results = LoadImageFromFile()(dict(img1_path=img1, img2_path=img2))
    except ValueError as error:  # not an image, or sizes that differ
        raise UserError(str(error)) from None
    data = pseudo_collate([PackFlowInputs()(results)])
    try:
        device = next(model.parameters()).device.type
        with torch.no_grad(), autocast(device_type=device, enabled=amp):
            sample = model.test_step(data)[0]
    except (RuntimeError, ValueError):
        _check_large_enough(model, *results['img_shape'])
        raise
    return sample.pred_flow_fw.data.cpu().numpy().transpose(1, 2, 0)


def _check_large_enough(model, height: int, width: int, max_probes=16):
    """Raise UserError if ``height`` x ``width`` is below the smallest size
    the model accepts.

    Flow models do not state that size (it follows from their padding and the
    depth of their pyramids), so it is measured on blank images: if the
    model takes blank images of this size the failure is not about size;
    otherwise square ones grow by the model's ``size_divisor`` until one
    passes (the padding rounds sizes up to a multiple of it).
    """
    device = next(model.parameters()).device

    def accepts(h, w):
        try:
            with torch.no_grad():
                model(torch.zeros(1, 6, h, w, device=device), mode='tensor')
        except (RuntimeError, ValueError):
            return False
        return True

    if accepts(height, width):
        return
    step = getattr(model, 'size_divisor', 1)
    side = (min(height, width) // step + 1) * step
    for _ in range(max_probes):
        if accepts(side, side):
            raise UserError(
                f'the images are {height}x{width} pixels, too small for '
                f'{type(model).__name__}: it needs at least '
                f'{side - step + 1} pixels on each side')
        side += step


@cli_main
def main():
    args = parse_args()
    cfg = load_config(args.config)
    model = build_model(cfg, args.checkpoint, args.device)

    amp = args.amp or bool((cfg.get('test_cfg') or {}).get('fp16'))
    flow = estimate_flow(model, args.img1, args.img2, amp)
    write_flow(args.out, flow)
    print(f'flow ({flow.shape[0]}x{flow.shape[1]}) written to {args.out}')
    dis = compare_with_dis(args, flow) if args.compare_opencv else None
    if args.vis:
        write_picture(args.vis, flow, dis)
        print(f'visualisation written to {args.vis}')


def compare_with_dis(args, flow):
    """Print how OpenCV's DIS flow differs from the model's ``flow``, write
    its picture beside the model's and return it.

    OpenCV is a peer here, called by the demo only, never by a model.
    """
    from mmext.flow.evaluation.opencv_peers import dis_flow, warp_residual
    results = LoadImageFromFile()(dict(img1_path=args.img1,
                                       img2_path=args.img2))
    img1, img2 = results['img1'], results['img2']
    dis = dis_flow(img1, img2)
    difference = np.linalg.norm(flow - dis, axis=-1).mean()
    print(f'OpenCV DIS (medium) vs the model: mean end-point difference '
          f'{difference:.2f} px; warping residual (grey levels, lower fits '
          f'better) model {warp_residual(img1, img2, flow):.2f}, DIS '
          f'{warp_residual(img1, img2, dis):.2f}')
    stem, _ = osp.splitext(args.vis or args.out)
    path = stem + '_opencv-dis.png'
    write_picture(path, dis, flow)
    print(f'OpenCV DIS visualisation written to {path}')
    return dis


def write_picture(path: str, flow, other=None):
    """Write the colour-wheel picture of ``flow``; with ``other``, on the
    colour scale of both fields, so the two pictures compare."""
    fields = [flow] if other is None else [flow, other]
    max_flow = max(max_flow_magnitude(field) for field in fields)
    mkdir_or_exist(osp.dirname(osp.abspath(path)))
    if not cv2.imwrite(path, flow_to_color(flow, max_flow)[..., ::-1]):
        raise UserError(f'cannot write {path}')


if __name__ == '__main__':
    main()
