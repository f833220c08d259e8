"""An embedded stand-in for CelebA: procedural face-like images with binary
attributes, written in CelebA's on-disk layout.

No face data with attribute labels ships in any installable package, so this
renders cartoon faces whose attributes are known by construction: ``Bangs``
(a hair fringe over the forehead), ``Eyeglasses`` (frames around both eyes),
``Mustache`` (hair between nose and mouth) and ``Smiling`` (an open, upturned
mouth instead of closed lips). Everything else varies at random and carries
no label: skin and hair colour, face shape, eye spacing and colour,
background, head position. The files are the ones CelebA has
(``img_align_celeba/000001.jpg``, ``list_attr_celeba.txt``,
``list_eval_partition.txt``, ``list_landmarks_align_celeba.txt``), with the
same header lines and value formats, so training on them runs the real CelebA
reader; the landmarks are the exact rendered positions of the eyes, nose tip
and mouth corners.

Command line::

    python tools/generation/make_procedural_faces.py data/procedural_faces \
        --num-images 2000
"""
import argparse
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'PROCEDURAL_ATTRIBUTES', 'render_face', 'make_procedural_faces', 'main'
]

#: The rendered attributes, named and ordered as in list_attr_celeba.txt.
PROCEDURAL_ATTRIBUTES = ('Bangs', 'Eyeglasses', 'Mustache', 'Smiling')

# BGR palettes.
_SKIN = ((189, 224, 255), (160, 200, 240), (130, 170, 225), (100, 140, 200),
         (70, 105, 160), (50, 75, 120))
_HAIR = ((20, 20, 25), (30, 50, 90), (40, 80, 130), (90, 160, 210),
         (160, 160, 165), (30, 60, 160))
_IRIS = ((90, 60, 30), (60, 90, 40), (40, 60, 90), (30, 30, 40))
_FRAMES = ((15, 15, 15), (20, 40, 70), (60, 60, 60), (90, 30, 20))

# Rendered at this multiple of the output size, then area-downsampled, so
# edges are anti-aliased.
_SUPERSAMPLE = 2


def _jitter(rng, colour, amount=12):
    return tuple(
        int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255))
        for c in colour)


def _pick(rng, palette):
    return palette[rng.integers(len(palette))]


def render_face(
    rng: np.random.Generator,
    attributes: Dict[str, bool],
    size: Tuple[int, int] = (178, 218)
) -> Tuple[np.ndarray, np.ndarray]:
    """Render one face.

    Args:
        rng (np.random.Generator): Source of the unlabelled variation.
        attributes (dict): ``{name: bool}`` for :data:`PROCEDURAL_ATTRIBUTES`
            (missing names count as absent).
        size (tuple): ``(width, height)``; CelebA's aligned images are
            178 x 218, and the face keeps that framing at other sizes.

    Returns:
        tuple: BGR uint8 image ``(height, width, 3)`` and ``(5, 2)`` float
        landmarks (left eye, right eye, nose tip, left and right mouth
        corner, in output pixels).
    """
    width, height = size
    k = _SUPERSAMPLE * width / 178.0  # layout units are CelebA-aligned pixels
    canvas_w, canvas_h = _SUPERSAMPLE * width, _SUPERSAMPLE * height

    def p(x, y):
        return int(round(x * k)), int(round(y * k))

    def r(v):
        return max(1, int(round(v * k)))

    # Background: a vertical gradient between two random colours.
    top = rng.integers(40, 230, 3)
    bottom = rng.integers(40, 230, 3)
    ramp = np.linspace(0, 1, canvas_h)[:, None, None]
    img = (top * (1 - ramp) + bottom * ramp).astype(np.uint8)
    img = np.ascontiguousarray(np.repeat(img, canvas_w, axis=1))

    skin = _jitter(rng, _pick(rng, _SKIN))
    shade = tuple(int(c * 0.8) for c in skin)
    hair = _jitter(rng, _pick(rng, _HAIR), 8)
    aa = cv2.LINE_AA

    # Where the aligned crop puts the face (CelebA: eyes near y=111).
    cx = 89 + rng.uniform(-3, 3)
    eye_y = 111 + rng.uniform(-2, 2)
    eye_gap = 40 * rng.uniform(0.93, 1.07)
    face_w = eye_gap * rng.uniform(1.15, 1.35)
    face_h = eye_gap * rng.uniform(1.6, 1.8)
    face_cy = eye_y + 0.45 * eye_gap

    # Shoulders, neck, hair behind the head, then the face over them.
    cv2.ellipse(img, p(cx, 218 + 10), (r(80), r(45)), 0, 0, 360,
                _jitter(rng, (90, 90, 90), 60), -1, aa)
    cv2.rectangle(img, p(cx - 0.45 * face_w, face_cy),
                  p(cx + 0.45 * face_w, 218), shade, -1, aa)
    cv2.ellipse(img, p(cx, face_cy - 0.25 * face_h),
                (r(face_w * 1.12), r(face_h * 0.95)), 0, 0, 360, hair, -1, aa)
    cv2.ellipse(img, p(cx, face_cy), (r(face_w), r(face_h)), 0, 0, 360, skin,
                -1, aa)

    forehead_top = face_cy - face_h
    if attributes.get('Bangs'):
        # A fringe from the hairline down to just above the eyebrows, with a
        # ragged lower edge of strands.
        # The fringe is cut to the head's outline.
        fringe_y = eye_y - 0.3 * eye_gap
        xs = np.linspace(cx - face_w * 1.1, cx + face_w * 1.1, 11)
        edge = [(x, fringe_y + rng.uniform(-3, 3)) for x in xs]
        polygon = [(xs[0], forehead_top - 10)
                   ] + edge + [(xs[-1], forehead_top - 10)]
        fringe = np.zeros(img.shape[:2], np.uint8)
        cv2.fillPoly(fringe, [np.array([p(x, y) for x, y in polygon])], 255)
        head = np.zeros_like(fringe)
        cv2.ellipse(head, p(cx, face_cy), (r(face_w * 1.04), r(face_h * 1.02)),
                    0, 0, 360, 255, -1)
        img[(fringe > 0) & (head > 0)] = hair
    else:
        # A parting: hair only above the hairline.
        cv2.ellipse(img, p(cx, forehead_top + 0.12 * face_h),
                    (r(face_w * 0.98), r(0.16 * face_h)), 0, 180, 360, hair,
                    -1, aa)

    left_eye = (cx - eye_gap / 2, eye_y)
    right_eye = (cx + eye_gap / 2, eye_y)
    iris = _pick(rng, _IRIS)
    brow = tuple(int(c * 0.7) for c in hair)
    for ex, ey in (left_eye, right_eye):
        cv2.ellipse(img, p(ex, ey), (r(7), r(4)), 0, 0, 360, (245, 245, 245),
                    -1, aa)
        cv2.circle(img, p(ex, ey), r(3.2), iris, -1, aa)
        cv2.circle(img, p(ex, ey), r(1.4), (10, 10, 10), -1, aa)
        cv2.line(img, p(ex - 8, ey - 9), p(ex + 8, ey - 10), brow, r(2), aa)

    nose = (cx + rng.uniform(-1, 1), eye_y + 0.55 * eye_gap)
    cv2.polylines(img, [
        np.array([
            p(cx - 1, eye_y + 4),
            p(nose[0] - 4, nose[1]),
            p(nose[0] + 3, nose[1] + 1)
        ])
    ], False, shade, r(1.5), aa)

    mouth_y = eye_y + 1.05 * eye_gap
    lips = _jitter(rng, (80, 80, 170), 20)
    if attributes.get('Mustache'):
        # Hair over the upper lip, thickest in the middle.
        half = 0.45 * eye_gap
        top_y, low_y = nose[1] + 3, mouth_y - 2
        polygon = [(cx - half, low_y + 2), (cx - half * 0.5, top_y + 1),
                   (cx, top_y), (cx + half * 0.5, top_y + 1),
                   (cx + half, low_y + 2), (cx, low_y)]
        cv2.fillPoly(img, [np.array([p(x, y) for x, y in polygon])], hair, aa)
    if attributes.get('Smiling'):
        # Open mouth: corners raised and pulled out, teeth showing.
        half = 0.48 * eye_gap
        corner_y = mouth_y - 3
        cv2.ellipse(img, p(cx, corner_y), (r(half), r(9)), 0, 0, 180,
                    (40, 30, 110), -1, aa)
        cv2.ellipse(img, p(cx, corner_y), (r(half * 0.8), r(4)), 0, 0, 180,
                    (235, 235, 235), -1, aa)
        cv2.ellipse(img, p(cx, corner_y), (r(half), r(9)), 0, 0, 180, lips,
                    r(1.5), aa)
    else:
        half = 0.42 * eye_gap
        corner_y = mouth_y
        cv2.ellipse(img, p(cx, mouth_y - 1), (r(half), r(2)), 0, 0, 180, lips,
                    r(2), aa)
    mouth_left = (cx - half, corner_y)
    mouth_right = (cx + half, corner_y)

    if attributes.get('Eyeglasses'):
        frame = _pick(rng, _FRAMES)
        lens = 0.3 * eye_gap
        for ex, ey in (left_eye, right_eye):
            cv2.rectangle(img, p(ex - lens, ey - 0.7 * lens),
                          p(ex + lens, ey + 0.7 * lens), frame, r(1.8), aa)
        cv2.line(img, p(left_eye[0] + lens, eye_y),
                 p(right_eye[0] - lens, eye_y), frame, r(1.8), aa)
        for side in (-1, 1):
            cv2.line(img, p(cx + side * (eye_gap / 2 + lens), eye_y),
                     p(cx + side * face_w * 0.98, eye_y - 2), frame, r(1.5),
                     aa)

    img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    # Sensor-like noise so that flat regions are not perfectly flat.
    noise = rng.normal(0, 2.0, img.shape)
    img = np.clip(img + noise, 0, 255).astype(np.uint8)
    landmarks = np.array([left_eye, right_eye, nose, mouth_left, mouth_right],
                         dtype=np.float32) * (
                             width / 178.0)
    return img, landmarks


def _write_counted(path, count_line_items, header, rows):
    with open(path, 'w') as f:
        f.write(f'{count_line_items}\n{header}\n')
        f.writelines(row + '\n' for row in rows)


def make_procedural_faces(root: str,
                          num_images: int = 2000,
                          size: Tuple[int, int] = (178, 218),
                          seed: int = 0,
                          probabilities: Optional[Dict[str, float]] = None,
                          split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
                          quality: int = 95) -> str:
    """Write the procedural face set in CelebA's layout under ``root``.

    Args:
        root (str): Output folder (created; existing files are replaced).
        num_images (int): How many faces. Defaults to 2000.
        size (tuple): ``(width, height)`` of each image. Defaults to
            CelebA's aligned 178 x 218.
        seed (int): Everything is a function of the seed. Defaults to 0.
        probabilities (dict, optional): Chance of each attribute; defaults to
            0.5 for each of :data:`PROCEDURAL_ATTRIBUTES`.
        split_ratios (Sequence[float]): Train/val/test fractions, assigned in
            file order as list_eval_partition.txt does. Defaults to
            (0.8, 0.1, 0.1).
        quality (int): JPEG quality. Defaults to 95.

    Returns:
        str: ``root``.
    """
    if num_images < 1:
        raise ValueError(f'num_images must be positive, got {num_images}')
    probabilities = dict(probabilities or {})
    unknown = set(probabilities) - set(PROCEDURAL_ATTRIBUTES)
    if unknown:
        raise ValueError(f'cannot render {sorted(unknown)}; the procedural '
                         f'attributes are {list(PROCEDURAL_ATTRIBUTES)}')
    chance = np.array(
        [probabilities.get(name, 0.5) for name in PROCEDURAL_ATTRIBUTES])
    rng = np.random.default_rng(seed)
    labels = rng.random((num_images, len(PROCEDURAL_ATTRIBUTES))) < chance

    img_dir = osp.join(root, 'img_align_celeba')
    os.makedirs(img_dir, exist_ok=True)
    names = [f'{i + 1:06d}.jpg' for i in range(num_images)]
    attr_rows, landmark_rows = [], []
    for name, row in zip(names, labels):
        attrs = dict(zip(PROCEDURAL_ATTRIBUTES, row))
        img, landmarks = render_face(rng, attrs, size)
        if not cv2.imwrite(
                osp.join(img_dir, name), img,
            [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise OSError(f'could not write {osp.join(img_dir, name)}')
        # CelebA's formats: "name" then " %2d" per attribute, and
        # "name " then "%5d" per landmark coordinate.
        attr_rows.append(name + ''.join(f' {1 if v else -1:2d}' for v in row))
        landmark_rows.append(name + ' ' +
                             ''.join(f'{int(round(v)):5d}'
                                     for v in landmarks.reshape(-1)))

    # The release's header line of names ends with a space.
    _write_counted(
        osp.join(root, 'list_attr_celeba.txt'), num_images,
        ' '.join(PROCEDURAL_ATTRIBUTES) + ' ', attr_rows)
    _write_counted(
        osp.join(root, 'list_landmarks_align_celeba.txt'), num_images,
        'lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y '
        'leftmouth_x leftmouth_y rightmouth_x rightmouth_y', landmark_rows)
    bounds = np.cumsum(split_ratios) / np.sum(split_ratios) * num_images
    splits = np.searchsorted(
        np.round(bounds), np.arange(num_images), side='right')
    with open(osp.join(root, 'list_eval_partition.txt'), 'w') as f:
        f.writelines(f'{name} {split}\n' for name, split in zip(names, splits))
    return root


def main(argv=None):
    """Command-line entry: write the procedural set to a folder."""
    parser = argparse.ArgumentParser(
        description='Write procedural attribute-labelled faces in the CelebA '
        'layout (img_align_celeba/, list_attr_celeba.txt, '
        'list_eval_partition.txt, list_landmarks_align_celeba.txt).')
    parser.add_argument('root', help='output folder')
    parser.add_argument('--num-images', type=int, default=2000)
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        default=(178, 218),
        metavar=('WIDTH', 'HEIGHT'),
        help="image size (CelebA's aligned images are 178 x 218)")
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    make_procedural_faces(
        args.root, args.num_images, tuple(args.size), seed=args.seed)
    print(f'wrote {args.num_images} faces with attributes '
          f'{", ".join(PROCEDURAL_ATTRIBUTES)} to {args.root}')


if __name__ == '__main__':
    main()
