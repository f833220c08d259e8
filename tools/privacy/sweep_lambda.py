"""Utility-privacy curve of an adversarially trained classifier.

    python tools/privacy/sweep_lambda.py CONFIG --lambdas 0 0.1 0.3 1 3 \
        [--privacy-losses pixel perceptual] [--work-dir DIR]

For every privacy loss and lambda it trains the config's
``AdversarialPrivacyClassifier`` with ``privacy_weight=lambda`` (lambda 0,
the unprotected encoder, is trained once as the reference point), then runs
the config's ``AttackerTestLoop``: the task metric and a fresh attacker's
PSNR / SSIM / perceptual distance on the test images. Writes
``DIR/sweep.csv`` (after every point, so a stopped sweep keeps what it has)
and ``DIR/sweep.png`` (task metric against attacker PSNR and SSIM, with the
blind attacker's as a dashed line), and
prints the table in Markdown. ``perceptual`` uses the config's
``test_cfg.perceptual`` as the encoder's privacy loss.
"""
import argparse
import copy
import csv
import functools
import os.path as osp
import time

from mmengine import mkdir_or_exist

import mmext  # noqa: F401  (compatibility layer, registers mmext)
from mmext.engine import DictAction, build_runner, cli_main, load_config
from mmext.errors import BadValueError

PRIVACY_LOSSES = ('pixel', 'perceptual')
ATTACKER_PREFIX = 'attacker/'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train an AdversarialPrivacyClassifier config for several '
        'lambdas and draw the utility-privacy curve.')
    parser.add_argument('config')
    parser.add_argument('--lambdas',
                        type=float,
                        nargs='+',
                        default=[0, 0.1, 0.3, 1, 3],
                        help='privacy weights (0 = the unprotected reference)')
    parser.add_argument(
        '--privacy-losses',
        nargs='+',
        choices=PRIVACY_LOSSES,
        default=['pixel'],
        help="the encoder's privacy term: the adversary's pixel error or the "
        "perceptual distance of the config's test_cfg.perceptual")
    parser.add_argument(
        '--work-dir',
        help='where runs, sweep.csv and sweep.png go (default: '
        'work_dirs/<config name>_sweep)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args(argv)


def sweep_points(lambdas, privacy_losses):
    """(privacy loss, lambda) pairs; lambda 0 once, as 'none'."""
    points = [('none', 0.0)] if 0 in lambdas else []
    points += [(loss, float(lam)) for loss in privacy_losses for lam in lambdas
               if lam != 0]
    return points


def point_config(cfg, privacy_loss, lam, work_dir):
    """The config of one sweep point."""
    if cfg.model.get('type') not in (
            'AdversarialPrivacyClassifier',
            'mmpretrain.AdversarialPrivacyClassifier'):
        raise BadValueError(
            f'the sweep needs model.type=AdversarialPrivacyClassifier, got '
            f'{cfg.model.get("type")!r}')
    if cfg.get('test_cfg', {}).get('type') != 'AttackerTestLoop':
        raise BadValueError(
            'the sweep needs test_cfg.type=AttackerTestLoop (the '
            'post-hoc attacker evaluation)')
    cfg = copy.deepcopy(cfg)
    cfg.model.privacy_weight = lam
    if privacy_loss == 'perceptual':
        perceptual = cfg.test_cfg.get('perceptual')
        if perceptual is None:
            raise BadValueError(
                '--privacy-losses perceptual needs '
                'test_cfg.perceptual (a PerceptualDistance) in '
                'the config')
        cfg.model.privacy_loss = perceptual
    elif privacy_loss == 'pixel':
        cfg.model.privacy_loss = None
    name = f'{privacy_loss}_lambda{lam:g}'
    cfg.work_dir = osp.join(work_dir, name)
    cfg.experiment_name = name
    cfg.log_level = 'WARNING'
    return cfg


def task_metric_name(metrics):
    names = [name for name in metrics if not name.startswith(ATTACKER_PREFIX)]
    if not names:
        raise BadValueError('the test evaluator reported no task metric')
    return names[0]


def write_csv(rows, path):
    fields = list(rows[0])
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def plot(rows, task_name, path, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    privacy_scores = [('attacker_psnr',
                       'attacker PSNR (dB), lower = more private'),
                      ('attacker_ssim', 'attacker SSIM, lower = more private')]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    reference = [row for row in rows if row['privacy_loss'] == 'none']
    for ax, (key, label) in zip(axes, privacy_scores):
        for loss, marker in zip(PRIVACY_LOSSES, 'os'):
            points = reference + [r for r in rows if r['privacy_loss'] == loss]
            if len(points) == len(reference):
                continue
            xs = [row[key] for row in points]
            ys = [row[task_name] for row in points]
            ax.plot(xs, ys, marker=marker, label=f'{loss} privacy loss')
            for row in points:
                ax.annotate(f"λ={row['lambda']:g}",
                            (row[key], row[task_name]),
                            textcoords='offset points',
                            xytext=(4, 4),
                            fontsize=8)
        for row in reference:
            ax.plot(row[key],
                    row[task_name],
                    'k*',
                    markersize=12,
                    label='unprotected (λ=0)')
        blind = key.replace('attacker_', 'attacker_blind_')
        if blind in rows[0]:
            ax.axvline(rows[0][blind],
                       color='grey',
                       linestyle='--',
                       label='blind attacker (mean public image)')
        ax.set_xlabel(label)
        ax.set_ylabel(task_name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown_table(rows, task_name):
    columns = ['privacy_loss', 'lambda', task_name] + [
        name for name in rows[0] if name.startswith('attacker_')
    ] + ['train_s']
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    for row in rows:
        cells = [
            f'{row[c]:.4g}' if isinstance(row[c], float) else str(row[c])
            for c in columns
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def run_sweep(config,
              lambdas,
              privacy_losses=('pixel', ),
              work_dir=None,
              cfg_options=None,
              log=functools.partial(print, flush=True)):
    """Train and evaluate every point; returns the rows written to the CSV."""
    cfg = load_config(config, cfg_options)
    work_dir = work_dir or osp.join(
        'work_dirs',
        osp.splitext(osp.basename(config))[0] + '_sweep')
    mkdir_or_exist(work_dir)
    points = sweep_points(lambdas, privacy_losses)
    # Check every point's config before the first one trains.
    configs = [point_config(cfg, loss, lam, work_dir) for loss, lam in points]
    rows, start = [], time.time()
    for k, ((loss, lam), point_cfg) in enumerate(zip(points, configs)):
        log(f'[{k + 1}/{len(points)}] privacy loss {loss}, lambda {lam:g}: '
            'training, then the post-hoc attacker ...')
        began = time.time()
        runner = build_runner(point_cfg)
        runner.train()
        trained = time.time()
        metrics = runner.test()
        task_name = task_metric_name(metrics)
        row = dict(privacy_loss=loss, **{'lambda': lam})
        row[task_name] = float(metrics[task_name])
        for name, value in metrics.items():
            if name.startswith(ATTACKER_PREFIX):
                row['attacker_' + name[len(ATTACKER_PREFIX):]] = float(value)
        row['train_s'] = round(trained - began, 1)
        row['attack_s'] = round(time.time() - trained, 1)
        rows.append(row)
        write_csv(rows, osp.join(work_dir, 'sweep.csv'))
        elapsed = time.time() - start
        eta = elapsed / (k + 1) * (len(points) - k - 1)
        log(f'[{k + 1}/{len(points)}] {task_name} {row[task_name]:.2f}, '
            f'attacker PSNR {row["attacker_psnr"]:.2f} dB, SSIM '
            f'{row["attacker_ssim"]:.3f} ({time.time() - began:.0f} s; '
            f'elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min)')
    plot(rows, task_name, osp.join(work_dir, 'sweep.png'),
         osp.splitext(osp.basename(config))[0])
    log(markdown_table(rows, task_name))
    log(f'wrote {osp.join(work_dir, "sweep.csv")} and '
        f'{osp.join(work_dir, "sweep.png")}')
    return rows


@cli_main
def main(argv=None):
    args = parse_args(argv)
    run_sweep(args.config, args.lambdas, args.privacy_losses, args.work_dir,
              args.cfg_options)


if __name__ == '__main__':
    main()
