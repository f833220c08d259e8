"""Convert a public FAS dataset to the common frame layout (protocol 1).

    python tools/fas/convert_fas.py {oulu,casia,replay,msu,celeba_spoof} \
        DATASET_ROOT data/MCIO

Writes ``data/MCIO/<domain>/<split>/{real,fake}/<video>_frame{0,1}.png`` and
``data/MCIO/<domain>/<split>.txt`` (see
:mod:`mmext.classification.fas.converters`).
"""
import argparse

import mmext  # noqa: F401  (compatibility layer, registers mmext)
from mmext.classification.fas.converters import DATASETS, convert
from mmext.engine import cli_main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('dataset', choices=sorted(DATASETS))
    parser.add_argument('root', help='the dataset as distributed')
    parser.add_argument('out', help='root of the common layout')
    parser.add_argument('--domain',
                        help='domain name (default: the '
                        "papers' name: oulu, casia, replay, msu, celeb)")
    args = parser.parse_args(argv)
    counts = convert(args.dataset, args.root, args.out, args.domain)
    print(', '.join(f'{split}: {n} frames' for split, n in counts.items()))


if __name__ == '__main__':
    cli_main(main)()
