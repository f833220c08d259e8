"""Search a trained FlowNAS supernet:
``python tools/flownas/search.py CONFIG [--resume] [options]``.

CONFIG is a search config (``train_cfg`` a ``FlowNASSearchLoop``, ``load_from``
the supernet checkpoint). This is tools/train.py plus ``--resume``, which
continues an interrupted search from ``<work_dir>/search_state.json`` without
evaluating any finished candidate again; tools/train.py's ``--resume`` looks
for training checkpoints instead and would drop the supernet's ``load_from``.
"""
import argparse
import os.path as osp


import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.engine import DictAction, build_runner, cli_main, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Search a FlowNAS supernet')
    parser.add_argument('config', help='search config file path')
    parser.add_argument('--work-dir', help='the dir of the search records')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='continue the interrupted search in the work dir')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args(argv)


@cli_main
def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    if 'FlowNASSearchLoop' not in str(cfg.train_cfg.get('type')):
        raise ValueError(f'{args.config} is not a FlowNAS search config '
                         '(train_cfg.type must be FlowNASSearchLoop)')
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.resume:
        state = osp.join(cfg.work_dir, 'search_state.json')
        if not osp.isfile(state):
            raise FileNotFoundError(f'No search to resume: {state}')
        cfg.train_cfg.resume_from = state
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
