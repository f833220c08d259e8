"""Estimate the optical flow between two images.

``python demo/image_demo.py IMG1 IMG2 CONFIG CHECKPOINT --out FLOW.flo
[--vis FLOW.png] [--device cpu]``

Writes the flow from IMG1 to IMG2 as a Middlebury ``.flo`` file and, with
``--vis``, its colour-wheel picture. The images are read and normalised as the
config's model expects (BGR, its data preprocessor); the checkpoint must fit
the model exactly (mmext/mmengine checkpoints, mmflow model-zoo files, plain
state dicts).
"""
import argparse
import os.path as osp

import cv2
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.utils import mkdir_or_exist

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.checkpoint import load_model_weights
from mmext.engine import cli_main, load_config
from mmext.flow.datasets import LoadImageFromFile, PackFlowInputs, write_flow
from mmext.flow.visualization import flow_to_color
from mmext.registry import MODELS


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
        '--device', default='cpu', help='device, e.g. cpu or cuda:0')
    args = parser.parse_args()
    if not args.out.endswith('.flo'):
        parser.error(f'--out must be a .flo file, got {args.out}')
    return args


def estimate_flow(model, img1: str, img2: str):
    """The flow (H, W, 2) from ``img1`` to ``img2`` (files)."""
    results = LoadImageFromFile()(dict(img1_path=img1, img2_path=img2))
    data = pseudo_collate([PackFlowInputs()(results)])
    with torch.no_grad():
        sample = model.test_step(data)[0]
    return sample.pred_flow_fw.data.cpu().numpy().transpose(1, 2, 0)


@cli_main
def main():
    args = parse_args()
    cfg = load_config(args.config)
    init_default_scope(cfg.get('default_scope', 'mmext'))
    model = MODELS.build(cfg.model)
    load_model_weights(model, args.checkpoint)
    model.to(args.device).eval()

    flow = estimate_flow(model, args.img1, args.img2)
    write_flow(args.out, flow)
    print(f'flow ({flow.shape[0]}x{flow.shape[1]}) written to {args.out}')
    if args.vis:
        mkdir_or_exist(osp.dirname(osp.abspath(args.vis)))
        if not cv2.imwrite(args.vis, flow_to_color(flow)[..., ::-1]):
            raise OSError(f'cannot write {args.vis}')
        print(f'visualisation written to {args.vis}')


if __name__ == '__main__':
    main()
