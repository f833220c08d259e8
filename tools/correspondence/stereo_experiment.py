"""Keypoint transfer on a real stereo pair with ground truth, before and after
a short contrastive + cycle training on the photos that ship in installed
packages.

``python tools/correspondence/stereo_experiment.py [--iters N] [--seed S]
[--work-dir DIR] [--checkpoint CKPT] [--scale F] [--num-kps K]``

The Middlebury 2014 stereo pair of scikit-image is a dense correspondence
with ground truth (right = left shifted by the disparity). Keypoints are
sampled on valid pixels of the left image and transferred to the right one
by each method; PCK (alpha x the image's larger side, the PF-PASCAL rule)
and the mean error are printed side by side for:

- identity (every keypoint stays where it is: the floor),
- raw pixels (normalised 8x8 grey patches, nearest neighbour),
- a randomly initialised ResNet-18 (hyperpixels of blocks 2, 4, 6), its
  batch-norm statistics measured on the training photos so that it differs
  from the trained network only in its weights,
- the same network after ``--iters`` iterations of
  ``configs/contrastive_correspondence/mocov2-cycle_resnet18_1xb8-300it_shipped-photos-96px.py``
  (skipped in favour of ``--checkpoint`` when one is given).

The stereo pair is not among the training photos; nothing is downloaded.
"""
import argparse
import json
import os.path as osp

import cv2
import numpy as np
import torch
import torch.nn.functional as F

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.checkpoint import load_model_weights
from mmext.correspondence import PCKMetric
from mmext.engine import build_runner, cli_main, load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'contrastive_correspondence',
                  'mocov2-cycle_resnet18_1xb8-300it_shipped-photos-96px.py')
# 0.05-0.15 are the benchmarks' alphas; on this pair (disparity about 5% of
# the width) identity already passes 0.1, so 0.01 and 0.02 are shown too.
ALPHAS = (0.01, 0.02, 0.05, 0.1, 0.15)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir',
                        default=osp.join('work_dirs', 'stereo_experiment'))
    parser.add_argument('--iters', type=int,
                        help='training iterations (default: the config)')
    parser.add_argument('--checkpoint', help='evaluate this checkpoint of the '
                        'config instead of training one')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--scale', type=float, default=0.5,
                        help='image scale of the stereo pair (1 = full size)')
    parser.add_argument('--num-kps', type=int, default=300)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    if args.iters is not None and args.iters < 1:
        parser.error('--iters must be positive')
    if not 0 < args.scale <= 1:
        parser.error('--scale must be in (0, 1]')
    return args


def stereo_keypoints(scale, num_kps, seed):
    """The pair (BGR, cropped to multiples of 16) and keypoints on it."""
    import skimage.data
    left, right, disparity = skimage.data.stereo_motorcycle()
    full_width = left.shape[1]
    height, width = (int(s * scale) // 16 * 16 for s in left.shape[:2])
    size = (int(round(full_width * scale)), int(round(left.shape[0] * scale)))
    left, right = (cv2.resize(im, size, interpolation=cv2.INTER_AREA)
                   [:height, :width, ::-1] for im in (left, right))
    disparity = cv2.resize(disparity, size,
                           interpolation=cv2.INTER_NEAREST)[:height, :width]
    # Disparities are horizontal pixel offsets: they scale with the width.
    disparity = disparity * (size[0] / full_width)
    ys, xs = np.mgrid[:height, :width]
    valid = np.isfinite(disparity) & (xs + 0.5 - disparity >= 0)
    pick = np.random.default_rng(seed).choice(np.flatnonzero(valid), num_kps,
                                              replace=False)
    src = np.stack([xs.flat[pick] + 0.5, ys.flat[pick] + 0.5], axis=1)
    trg = src - np.stack([disparity.flat[pick], 0 * pick], axis=1)
    return (np.ascontiguousarray(left), np.ascontiguousarray(right),
            src.astype(np.float32), trg.astype(np.float32))


PATCH_STRIDE = 4


def patch_features(image, size=8, stride=PATCH_STRIDE):
    """Zero-mean, unit-norm grey patches on a stride-4 grid (an NCC matcher)."""
    grey = torch.from_numpy(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)).float()
    patches = F.unfold(grey[None, None], size, stride=stride,
                       padding=(size - stride) // 2)
    height, width = (s // stride for s in image.shape[:2])
    patches = patches - patches.mean(dim=1, keepdim=True)
    return F.normalize(patches, dim=1).view(-1, height, width)


def network_features(model, image):
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None]
    inputs = model.data_preprocessor(
        dict(inputs=[tensor], data_samples=None))['inputs'][0]
    with torch.no_grad():
        return model.matcher.features(model.backbone, inputs)[0]


def evaluate(predict, pair):
    left, right, src, trg = pair
    pred = predict(left, right, torch.from_numpy(src))
    metric = PCKMetric(alphas=ALPHAS, threshold='image')
    metric.process(None, [dict(
        pred_kps=pred, trg_kps=trg, category='stereo',
        trg_scale_factor=np.ones(2, np.float32),
        trg_ori_shape=right.shape[:2], trg_bbox=None)])
    result = metric.compute_metrics(metric.results)
    result['mean error (px)'] = float(
        np.linalg.norm(pred.numpy() - trg, axis=1).mean())
    return result


@torch.no_grad()
def measure_bn_statistics(model, dataloader, batches=20):
    """Running BN statistics of ``model`` on the first ``batches`` batches."""
    model.train()
    for _, data in zip(range(batches), dataloader):
        inputs = model.data_preprocessor(data, True)['inputs']
        model.backbone(torch.cat(inputs))
    model.eval()


def matcher_predict(model, features, stride):
    def predict(left, right, src):
        return model.matcher.transfer(features(left), features(right), src,
                                      stride)
    return predict


@cli_main
def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(CONFIG)
    cfg.work_dir = args.work_dir
    cfg.randomness = dict(seed=args.seed)
    if args.iters:
        cfg.train_cfg.max_iters = args.iters
        cfg.param_scheduler[0].update(T_max=args.iters, end=args.iters)
        cfg.default_hooks.checkpoint.interval = args.iters
    runner = build_runner(cfg)
    trained = runner.model
    random_init = build_runner(cfg.copy()).model  # same seed, same init
    if args.checkpoint:
        load_model_weights(trained, args.checkpoint)
    else:
        runner.train()
    trained.eval()
    measure_bn_statistics(random_init, runner.train_dataloader)

    pair = stereo_keypoints(args.scale, args.num_kps, args.seed)
    stride = trained.matcher.stride(trained.backbone)
    rows = {
        'identity': evaluate(lambda left, right, src: src.clone(), pair),
        'raw pixels (8x8 NCC)': evaluate(
            matcher_predict(trained, patch_features, PATCH_STRIDE), pair),
        'ResNet-18, random init': evaluate(matcher_predict(
            random_init, lambda im: network_features(random_init, im),
            stride), pair),
        'ResNet-18, MoCo + cycle': evaluate(matcher_predict(
            trained, lambda im: network_features(trained, im), stride), pair),
    }
    height, width = pair[0].shape[:2]
    median = float(np.median(pair[2][:, 0] - pair[3][:, 0]))
    print(f'\nMiddlebury stereo pair at {width}x{height}, {args.num_kps} '
          f'keypoints, median disparity {median:.1f} px, PCK threshold '
          f'alpha x {max(height, width)} px')
    header = [f'PCK@{a:g}' for a in ALPHAS] + ['mean error (px)']
    print('| method | ' + ' | '.join(header) + ' |')
    print('|---' * (len(header) + 1) + '|')
    for name, result in rows.items():
        values = [result[f'{a:g}'] for a in ALPHAS] + [result['mean error (px)']]
        print(f'| {name} | ' + ' | '.join(f'{v:.1f}' for v in values) + ' |')
    with open(osp.join(args.work_dir, 'stereo_experiment.json'), 'w') as f:
        json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()
