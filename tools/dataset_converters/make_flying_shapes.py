"""Write FlyingShapes (or, with ``--generator flyingphotos``, FlyingPhotos)
pairs in FlyingChairs' on-disk layout.

The output is read by the ordinary FlyingChairs dataset (``data_root=OUT_DIR``),
which exercises the real FlyingChairs reader without the 31 GB download::

    python tools/dataset_converters/make_flying_shapes.py data/flying_shapes \
        --num-train 2000 --num-val 200
    python tools/dataset_converters/make_flying_shapes.py data/flying_photos \
        --generator flyingphotos --height 128 --width 160
"""
import argparse

from mmext.flow.datasets import (make_flying_photos_pair,
                                 make_flying_shapes_pair,
                                 write_flying_chairs_layout)

GENERATORS = dict(
    flyingshapes=make_flying_shapes_pair, flyingphotos=make_flying_photos_pair)


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='output root (FlyingChairs data_root)')
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--height', type=int, default=96)
    parser.add_argument('--width', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--generator', choices=sorted(GENERATORS), default='flyingshapes')
    return parser.parse_args()


def main() -> None:
    """Write the pairs."""
    args = parse_args()
    write_flying_chairs_layout(
        args.out_dir,
        args.num_train,
        args.num_val,
        seed=args.seed,
        make_pair=GENERATORS[args.generator],
        img_size=(args.height, args.width))
    print(f'wrote {args.num_train} training and {args.num_val} validation '
          f'pairs to {args.out_dir}')


if __name__ == '__main__':
    main()
