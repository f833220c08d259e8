"""ELEGANT's 5-point alignment of CelebA: every image warped by the
similarity transform that best fits its eyes, nose tip and mouth corners to
a template with the eyes level and 70 px apart in a 256 x 256 crop.

    python tools/generation/align_celeba.py data/celeba \
        [--img-dir img_align_celeba] \
        [--landmarks list_landmarks_align_celeba.txt] \
        [--out-dir align_5p_256] [--size 256] [--workers 4]

The defaults read the aligned-and-cropped release (178 x 218) and its
landmarks. The in-the-wild release gives sharper crops (its faces are larger):
``--img-dir img_celeba --landmarks list_landmarks_celeba.txt``, same file
format. Outputs keep the file names, so list_attr_celeba.txt and
list_eval_partition.txt apply unchanged; point a config's
``data_prefix=dict(img='align_5p_256')`` at the output folder.
"""
import argparse
import os
import os.path as osp
from functools import partial
from multiprocessing import Pool

import cv2

from mmext.generation.alignment import align_face
from mmext.generation.datasets.celeba import read_landmark_file


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="ELEGANT's 5-point alignment of CelebA images")
    parser.add_argument('data_root', help='the CelebA folder')
    parser.add_argument('--img-dir', default='img_align_celeba')
    parser.add_argument(
        '--landmarks', default='list_landmarks_align_celeba.txt')
    parser.add_argument('--out-dir', default='align_5p_256')
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--workers', type=int, default=4)
    return parser.parse_args(argv)


def align_one(item, img_dir, out_dir, size):
    name, points = item
    img = cv2.imread(osp.join(img_dir, name), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read {osp.join(img_dir, name)}')
    aligned, _ = align_face(img, points, size)
    if not cv2.imwrite(osp.join(out_dir, name), aligned):
        raise OSError(f'could not write {osp.join(out_dir, name)}')


def main(argv=None):
    args = parse_args(argv)
    img_dir = osp.join(args.data_root, args.img_dir)
    out_dir = osp.join(args.data_root, args.out_dir)
    if not osp.isdir(img_dir):
        raise SystemExit(f'error: image folder not found: {img_dir}')
    names, points = read_landmark_file(
        osp.join(args.data_root, args.landmarks))
    os.makedirs(out_dir, exist_ok=True)
    work = partial(align_one, img_dir=img_dir, out_dir=out_dir, size=args.size)
    items = list(zip(names, points))
    if args.workers > 1:
        with Pool(args.workers) as pool:
            for _ in pool.imap_unordered(work, items, chunksize=64):
                pass
    else:
        for item in items:
            work(item)
    print(f'aligned {len(items)} images to {out_dir} ({args.size} x '
          f'{args.size}, eye distance {70 * args.size / 256:g} px)')


if __name__ == '__main__':
    main()
