"""The method README's embedded experiment, nothing to download:

    python tools/privacy/embedded_experiment.py

1. Writes the procedural faces (1,000 faces, 64 x 78, CelebA layout,
   60/20/20 train/val/test partition) to data/procedural_faces_64px unless
   they are there.
2. Runs the lambda sweep (tools/privacy/sweep_lambda.py) on scikit-learn's
   digits and on the procedural faces, the two side by side (one process
   and one thread each), streaming their progress.
3. Copies each sweep's curve (PNG) and table (CSV) to ``--figures-dir``.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import threading
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join('configs', 'privacy_adversarial')
EXPERIMENTS = {
    'digits':
    'privacy-adv-pixel_resnet18-w16-cut0_1xb32-300it_digits-16px.py',
    'procedural-faces':
    'privacy-adv-pixel_resnet18-w16-cut0_1xb32-300it_procedural-faces-32px.py',
}
FACES_ROOT = osp.join('data', 'procedural_faces_64px')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--lambdas',
                        nargs='+',
                        default=['0', '0.1', '0.3', '1', '3'])
    parser.add_argument('--work-dir',
                        default=osp.join('work_dirs', 'privacy_embedded'))
    parser.add_argument('--figures-dir', default=CONFIG_DIR)
    return parser.parse_args()


def write_faces():
    if osp.isfile(osp.join(FACES_ROOT, 'list_attr_celeba.txt')):
        return
    from mmext.generation.datasets.procedural_faces import \
        make_procedural_faces
    make_procedural_faces(FACES_ROOT,
                          num_images=1000,
                          size=(64, 78),
                          seed=0,
                          split_ratios=(0.6, 0.2, 0.2))
    print(f'wrote 1000 procedural faces to {FACES_ROOT}', flush=True)


def stream(name, process):
    for line in process.stdout:
        # The runners log at WARNING; the sweep's own lines carry progress.
        if line.startswith(('[', '|', 'wrote', 'error')):
            print(f'{name}: {line}', end='', flush=True)


def main():
    args = parse_args()
    os.chdir(REPO)
    start = time.time()
    write_faces()
    env = dict(os.environ,
               OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1',
               PYTHONPATH=REPO)
    processes, readers = {}, []
    for name, config in EXPERIMENTS.items():
        command = [
            sys.executable, '-u',
            osp.join('tools', 'privacy', 'sweep_lambda.py'),
            osp.join(CONFIG_DIR, config), '--lambdas', *args.lambdas,
            '--work-dir',
            osp.join(args.work_dir, name)
        ]
        processes[name] = subprocess.Popen(command,
                                           stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT,
                                           text=True,
                                           env=env)
        readers.append(
            threading.Thread(target=stream, args=(name, processes[name])))
        readers[-1].start()
    for reader in readers:
        reader.join()
    failed = [name for name, p in processes.items() if p.wait() != 0]
    if failed:
        sys.exit(f'error: the sweep of {", ".join(failed)} failed (its log '
                 f'is under {args.work_dir})')
    for name in EXPERIMENTS:
        for ext in ('png', 'csv'):
            shutil.copy(osp.join(args.work_dir, name, f'sweep.{ext}'),
                        osp.join(args.figures_dir, f'embedded_{name}.{ext}'))
    print(
        f'done in {(time.time() - start) / 60:.1f} min; curves and tables '
        f'in {args.figures_dir}/embedded_*.png|csv',
        flush=True)


if __name__ == '__main__':
    main()
