"""Evaluate flow checkpoints under photometric and adversarial perturbations.

``python tools/analysis_tools/flow_robustness.py CONFIG CHECKPOINT
[--compare CONFIG2 CHECKPOINT2] [--dataset test|val|stereo] [options]``

Every image pair is evaluated under these conditions (values are the defaults,
all in pixel units of the 0-255 image range):

- ``clean``: the pair as the dataset gives it.
- ``illumination``: image 2 becomes ``gain * 255 * (img2 / 255) ** gamma +
  offset`` (gain 0.7, gamma 1.4, offset 20): a darker, more contrasted second
  frame, the brightness-constancy violation LCV claims robustness to.
- ``noise``: independent Gaussian noise of standard deviation ``sigma`` (8) on
  both images; the draws depend only on ``--seed`` and the pair's index, so
  every compared model sees the same noise.
- ``fgsm``: one signed-gradient step of size ``eps`` (2) on both images that
  increases the pair's EPE.
- ``pgd``: ``steps`` (5) signed-gradient steps of ``step_size`` (0.5), each
  projected back onto the L_inf ball of radius ``eps`` (2) around the clean
  pair; no random start, so runs are reproducible; the last iterate is scored.

Perturbations act on the images in 0-255 space, before the model's data
preprocessor normalises them, and are clipped to [0, 255] (not rounded to
integers, which would undo steps smaller than one grey level). The attacks
maximise the EPE of the final flow against the ground truth with the gradient
of the model in eval mode as it is defined: RAFT detaches the flow between
refinement iterations, so its lookup positions count as constants, exactly as
in its training gradient. Scores are the EndPointError (EPE, px) and
FlowOutliers (Fl, %) metrics averaged over all valid pixels of the evaluated
pairs. ``--compare`` evaluates a second config/checkpoint on the same pairs and
prints both side by side (for example vanilla RAFT against RAFT-LCV).
"""
import argparse
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.registry import init_default_scope
from torch import Tensor

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.engine import DictAction, build_model, cli_main, load_config
from mmext.flow.datasets.flow_io import UNKNOWN_FLOW_THRESH
from mmext.flow.evaluation.metrics import EndPointError, FlowOutliers
from mmext.registry import DATASETS

CONDITIONS = ('clean', 'illumination', 'noise', 'fgsm', 'pgd')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments (``argv`` None reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(
        description='Flow EPE/Fl under illumination change, noise and '
        'adversarial perturbation')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint of that model')
    parser.add_argument(
        '--compare',
        nargs=2,
        metavar=('CONFIG2', 'CHECKPOINT2'),
        help='a second model evaluated on the same pairs, printed beside')
    parser.add_argument(
        '--labels',
        nargs='+',
        help='column names of the models (default: the config file names)')
    parser.add_argument(
        '--dataset',
        choices=['test', 'val', 'stereo'],
        default='test',
        help="the first config's test_dataloader or val_dataloader dataset, "
        'or the Middlebury Motorcycle stereo pair (MiddleburyStereoFlow)')
    parser.add_argument(
        '--stereo-downscale',
        type=int,
        default=4,
        help='block-averaging factor of the stereo pair (default 4: 125x185)')
    parser.add_argument(
        '--num-samples',
        type=int,
        help='evaluate only the first N pairs of the dataset')
    parser.add_argument(
        '--conditions',
        nargs='+',
        choices=CONDITIONS,
        default=list(CONDITIONS),
        help='conditions to evaluate (default: all)')
    parser.add_argument('--gain', type=float, default=0.7)
    parser.add_argument('--gamma', type=float, default=1.4)
    parser.add_argument('--offset', type=float, default=20.)
    parser.add_argument(
        '--noise-sigma', type=float, default=8., help='in 0-255 units')
    parser.add_argument(
        '--eps', type=float, default=2., help='L_inf radius, 0-255 units')
    parser.add_argument('--pgd-steps', type=int, default=5)
    parser.add_argument(
        '--pgd-step-size', type=float, default=.5, help='0-255 units')
    parser.add_argument('--seed', type=int, default=0, help='noise seed')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='default: cuda if available, else cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides applied to every config, e.g. '
        'model.test_cfg.iters=12')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != (2 if args.compare else 1):
        parser.error('--labels needs one name per model')
    return args


# ---------------------------------------------------------------------------
# Perturbations of a (1, 6, H, W) float pair in 0-255 BGR space
# ---------------------------------------------------------------------------


def illumination(pair: Tensor, gain: float, gamma: float,
                 offset: float) -> Tensor:
    """Gain, gamma and offset applied to image 2 only, clipped to [0, 255]."""
    img1, img2 = pair[:, :3], pair[:, 3:]
    img2 = gain * 255. * (img2 / 255.)**gamma + offset
    return torch.cat([img1, img2], dim=1).clamp(0, 255)


def gaussian_noise(pair: Tensor, sigma: float, seed: int) -> Tensor:
    """Additive N(0, sigma^2) noise on both images, clipped to [0, 255]."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(pair.shape, generator=generator) * sigma
    return (pair + noise.to(pair.device)).clamp(0, 255)


def sign_gradient_attack(pair: Tensor, loss_fn: Callable[[Tensor], Tensor],
                         eps: float, steps: int, step_size: float) -> Tensor:
    """Projected signed-gradient ascent of ``loss_fn`` in the L_inf ball.

    One step of size ``eps`` is FGSM; several smaller ones are PGD.

    Args:
        pair (Tensor): Clean pair, (1, 6, H, W) in [0, 255].
        loss_fn (Callable): Maps a pair to the scalar loss to increase.
        eps (float): L_inf radius around ``pair``.
        steps (int): Number of ascent steps.
        step_size (float): Size of each signed step.

    Returns:
        Tensor: The last iterate, within ``eps`` of ``pair`` and in [0, 255].
    """
    adv = pair.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        grad, = torch.autograd.grad(loss_fn(adv), adv)
        adv = adv.detach() + step_size * grad.sign()
        adv = torch.min(torch.max(adv, pair - eps), pair + eps).clamp(0, 255)
    return adv.detach()


# ---------------------------------------------------------------------------
# Models and data
# ---------------------------------------------------------------------------


class FlowModelUnderTest:
    """A flow model in eval mode with its checkpoint and its preprocessor.

    Args:
        config (str): Config file; its ``model`` is built.
        checkpoint (str): Weights, loaded with an exact-fit check.
        device (str): Device to run on.
        cfg_options (dict, optional): Config overrides.
    """

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 device: str,
                 cfg_options: Optional[dict] = None) -> None:
        self.cfg = load_config(config, cfg_options)
        self.name = osp.splitext(osp.basename(config))[0]
        self.model = build_model(self.cfg, checkpoint, device)
        # Attacks need gradients of the input only.
        self.model.requires_grad_(False)

    def flow(self, pair: Tensor, sample) -> Tensor:
        """Final flow (1, 2, H, W) of a 0-255 pair; differentiable in it."""
        data = self.model.data_preprocessor(
            dict(inputs=pair, data_samples=[sample]))
        return self.model(data['inputs'], mode='tensor')


def build_dataset(cfg, which: str, stereo_downscale: int):
    """The dataset to evaluate (see ``--dataset``)."""
    if which == 'stereo':
        dataset_cfg = dict(
            type='MiddleburyStereoFlow',
            downscale=stereo_downscale,
            pipeline=[dict(type='PackFlowInputs')])
    else:
        dataset_cfg = cfg[f'{which}_dataloader']['dataset']
    init_default_scope(cfg.get('default_scope', 'mmext'))
    return DATASETS.build(dataset_cfg)


def counted_pixels(sample, shape) -> Tensor:
    """Pixels the metrics count: valid, finite, known ground truth (H, W)."""
    gt = sample.gt_flow_fw.data
    counted = (gt.abs() < UNKNOWN_FLOW_THRESH).all(dim=0)
    if sample.gt_valid_fw is not None:
        counted &= sample.gt_valid_fw.data.reshape(shape) >= 0.5
    return counted


def epe_loss(model: FlowModelUnderTest, sample) -> Callable[[Tensor], Tensor]:
    """The attacks' objective: mean EPE of a pair over the counted pixels."""
    gt = torch.nan_to_num(sample.gt_flow_fw.data.float())
    counted = counted_pixels(sample, gt.shape[-2:])

    def loss(pair: Tensor) -> Tensor:
        flow = model.flow(pair, sample)[0]
        error = torch.linalg.vector_norm(flow - gt.to(flow), dim=0)
        # A pair without valid pixels gives 0 and a zero gradient, not NaN.
        mask = counted.to(flow.device)
        return error[mask].sum() / mask.sum().clamp(min=1)

    return loss


def perturb(condition: str, pair: Tensor, model: FlowModelUnderTest, sample,
            index: int, args: argparse.Namespace) -> Tensor:
    """The pair under ``condition`` (attacks depend on ``model``)."""
    if condition == 'clean':
        return pair
    if condition == 'illumination':
        return illumination(pair, args.gain, args.gamma, args.offset)
    if condition == 'noise':
        return gaussian_noise(pair, args.noise_sigma, args.seed + index)
    loss_fn = epe_loss(model, sample)
    if condition == 'fgsm':
        return sign_gradient_attack(pair, loss_fn, args.eps, 1, args.eps)
    return sign_gradient_attack(pair, loss_fn, args.eps, args.pgd_steps,
                                args.pgd_step_size)


def evaluate(model: FlowModelUnderTest, dataset, indices: Sequence[int],
             args: argparse.Namespace) -> Dict[str, Dict[str, float]]:
    """EPE and Fl of ``model`` per condition over the pairs ``indices``."""
    # Prefixed by the condition: each metric then reports '<condition>/EPE'.
    metrics = {
        c: (EndPointError(prefix=c), FlowOutliers(prefix=c))
        for c in args.conditions
    }
    device = next(model.model.parameters()).device
    for index in indices:
        item = dataset[index]
        sample = item['data_samples']
        pair = item['inputs'][None].float().to(device)
        for condition in args.conditions:
            perturbed = perturb(condition, pair, model, sample, index, args)
            with torch.no_grad():
                flow = model.flow(perturbed, sample)[0]
            scored = sample.clone()
            scored.pred_flow_fw = flow.cpu()
            for metric in metrics[condition]:
                metric.process(None, [scored.to_dict()])
    results = {}
    for condition, pair_metrics in metrics.items():
        results[condition] = {}
        for metric in pair_metrics:
            for key, value in metric.evaluate(len(indices)).items():
                results[condition][key.split('/')[-1]] = value
    return results


def format_table(results: Dict[str, Dict[str, Dict[str, float]]],
                 conditions: Sequence[str]) -> str:
    """A markdown table: one row per condition, EPE and Fl per model."""
    names = list(results)
    header = ['condition'] + [f'EPE {n}' for n in names] + \
        [f'Fl % {n}' for n in names]
    rows = [header, ['---'] * len(header)]
    for condition in conditions:
        row = [condition]
        for key in ('EPE', 'Fl'):
            row += [f'{results[n][condition][key]:.3f}' for n in names]
        rows.append(row)
    return '\n'.join('| ' + ' | '.join(row) + ' |' for row in rows)


def describe(args: argparse.Namespace, dataset, num_pairs: int) -> str:
    """The evaluation's settings, printed above the table."""
    return (f'dataset: {type(dataset).__name__} ({args.dataset}), '
            f'{num_pairs} pairs; illumination on image 2: gain {args.gain}, '
            f'gamma {args.gamma}, offset {args.offset}; noise sigma '
            f'{args.noise_sigma}; FGSM eps {args.eps}; PGD eps {args.eps}, '
            f'{args.pgd_steps} steps of {args.pgd_step_size} '
            '(0-255 units, L_inf)')


@cli_main
def main(argv: Optional[List[str]] = None
         ) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Evaluate, print the table and return ``{model: {condition: {EPE, Fl}}}``.

    Args:
        argv (list[str], optional): Arguments; None reads the command line.
    """
    args = parse_args(argv)
    specs = [(args.config, args.checkpoint)]
    if args.compare:
        specs.append(tuple(args.compare))
    models = [
        FlowModelUnderTest(config, checkpoint, args.device, args.cfg_options)
        for config, checkpoint in specs
    ]
    dataset = build_dataset(models[0].cfg, args.dataset,
                            args.stereo_downscale)
    num_pairs = len(dataset)
    if args.num_samples is not None:
        num_pairs = min(num_pairs, args.num_samples)
    names = args.labels or [model.name for model in models]
    results = {}
    for name, model in zip(names, models):
        # Two configs with one file name still get a column each.
        while name in results:
            name += "'"
        results[name] = evaluate(model, dataset, range(num_pairs), args)
    print(describe(args, dataset, num_pairs))
    print(format_table(results, args.conditions))
    return results


if __name__ == '__main__':
    main()
