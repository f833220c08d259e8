"""The schedules of structured sparsification: when the channel permutations
are re-solved, and how the regulariser's coefficient ``lambda`` follows the
model's sparsity towards the target; and the test of the folded deploy model.

Both act on a :class:`~.algorithm.StructuredSparsification` model. Per epoch,
the permutation hook runs first (higher priority), so that the sparsity the
lambda hook measures belongs to the updated permutations, as in the paper.
"""
import time
from collections import Counter

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmrazor.registry import HOOKS

from .algorithm import StructuredSparsification
from .fold import fold_permutations

__all__ = [
    'PermutationUpdateHook', 'SparsityLambdaHook', 'FoldPermutationsHook',
    'next_lambda'
]


def _algorithm(runner):
    model = runner.model.module if is_model_wrapper(runner.model) else \
        runner.model
    if not isinstance(model, StructuredSparsification):
        raise TypeError('The structured-sparsification hooks need a '
                        'StructuredSparsification model, got '
                        f'{type(model).__name__}.')
    return model


@HOOKS.register_module()
class PermutationUpdateHook(Hook):
    """Re-solve every conv's permutations P and Q on a schedule.

    The paper's defaults: CIFAR 20 rounds before training and 10 after each
    epoch; ImageNet 50 and 20, plus 5 every 500 iterations.

    Args:
        start_iters (int): Rounds before training. Defaults to 20.
        epoch_iters (int): Rounds after each epoch. Defaults to 10.
        interval (int, optional): Also update every ``interval`` training
            iterations. Defaults to None (never).
        interval_iters (int): Rounds of those updates. Defaults to 5.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, start_iters=20, epoch_iters=10, interval=None,
                 interval_iters=5):
        self.start_iters = start_iters
        self.epoch_iters = epoch_iters
        self.interval = interval
        self.interval_iters = interval_iters

    def _update(self, runner, iters, when):
        if iters <= 0:
            return
        start = time.perf_counter()
        value = _algorithm(runner).update_permutations(iters)
        runner.logger.info(
            f'StrucSpars: permutations updated {when} ({iters} rounds at '
            f'most, {time.perf_counter() - start:.1f} s), objective '
            f'{value:.6g}')

    def before_train(self, runner):
        self._update(runner, self.start_iters, 'before training')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self._update(runner, self.interval_iters,
                         f'at iteration {runner.iter + 1}')

    def after_train_epoch(self, runner):
        self._update(runner, self.epoch_iters,
                     f'after epoch {runner.epoch + 1}')


def next_lambda(reg_lambda, sparsity, last_sparsity, target, remaining_epochs,
                delta):
    """One epoch's update of ``lambda`` (after warm-up).

    Below the target and gaining less than the even share of the remaining
    gap, ``lambda`` grows by ``delta``; at or above the target it shrinks by
    ``delta``; it never goes below 0.

    Args:
        reg_lambda (float): The current coefficient.
        sparsity (float): Sparsity after this epoch.
        last_sparsity (float): Sparsity after the previous one.
        target (float): The target sparsity (prune ratio).
        remaining_epochs (int): Epochs left, this one included.
        delta (float): The step.
    """
    if sparsity < target:
        if sparsity - last_sparsity < (target - sparsity) / remaining_epochs:
            reg_lambda += delta
    else:
        reg_lambda -= delta
    return max(reg_lambda, 0.0)


@HOOKS.register_module()
class SparsityLambdaHook(Hook):
    """Apply the structured regulariser and schedule its coefficient.

    The regulariser is added to the gradients by a step pre-hook on the
    runner's optimizer: it runs after backward, after DDP's gradient
    all-reduce and AMP's unscaling, once per optimizer step however many
    batches are accumulated, and never on a skipped (non-finite) AMP step.
    After each epoch the model is regrouped at ``train_threshold`` and
    ``lambda`` follows :func:`next_lambda`; it is 0 during warm-up. The
    schedule's state is saved in the checkpoint's ``meta`` for resuming.

    Args:
        target_ratio (float): Target sparsity (prune ratio of the sparsified
            conv weights).
        delta (float): Initial ``lambda`` and its step. Defaults to 2e-6.
        warmup_epochs (int): Epochs without regularisation. Defaults to 10.
    """

    priority = 'NORMAL'

    def __init__(self, target_ratio, delta=2e-6, warmup_epochs=10):
        self.target_ratio = target_ratio
        self.delta = delta
        self.warmup_epochs = warmup_epochs
        self.reg_lambda = delta
        self.last_sparsity = None
        self._handle = None

    def before_train(self, runner):
        algorithm = _algorithm(runner)
        sparsity = algorithm.regroup()
        if self.last_sparsity is None:  # not restored by a resume
            self.last_sparsity = sparsity
        self._handle = runner.optim_wrapper.optimizer.register_step_pre_hook(
            lambda *_: algorithm.apply_regulariser())

    def before_train_epoch(self, runner):
        _algorithm(runner).reg_lambda = (
            self.reg_lambda if runner.epoch >= self.warmup_epochs else 0.0)

    def after_train_epoch(self, runner):
        algorithm = _algorithm(runner)
        sparsity = algorithm.regroup()
        if runner.epoch >= self.warmup_epochs:
            self.reg_lambda = next_lambda(self.reg_lambda, sparsity,
                                          self.last_sparsity,
                                          self.target_ratio,
                                          runner.max_epochs - runner.epoch,
                                          self.delta)
        self.last_sparsity = sparsity
        runner.message_hub.update_scalar('train/sparsity', sparsity)
        runner.message_hub.update_scalar('train/reg_lambda', self.reg_lambda)
        layers = Counter(algorithm.groups().values())
        runner.logger.info(
            f'StrucSpars: epoch {runner.epoch + 1} sparsity {sparsity:.4f} '
            f'(target {self.target_ratio}), convs per group count '
            f'{dict(sorted(layers.items()))}, next lambda '
            f'{self.reg_lambda:.3g}')

    def after_train(self, runner):
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint.setdefault('meta', {})['strucspars'] = dict(
            reg_lambda=self.reg_lambda, last_sparsity=self.last_sparsity)

    def after_load_checkpoint(self, runner, checkpoint):
        state = checkpoint.get('meta', {}).get('strucspars')
        if state:
            self.reg_lambda = state['reg_lambda']
            self.last_sparsity = state['last_sparsity']


@HOOKS.register_module()
class FoldPermutationsHook(Hook):
    """Test the folded form of a deploy model.

    ``tools/test.py`` builds the deploy model
    (:func:`~.deploy.StrucSparsDeploySubModel`) and loads its checkpoint;
    before the first test batch this hook replaces ``module`` (the
    classifier's backbone) by :func:`~.fold.fold_permutations` of it, traced
    at that batch's preprocessed shape, so the test measures the model as it
    would be deployed. Folding makes an inference-only copy, so validation
    during (fine-)tuning keeps the unfolded model.

    Args:
        module (str): The submodule to fold, one whose forward takes the
            preprocessed images. Defaults to 'backbone'.
    """

    priority = 'LOW'

    def __init__(self, module='backbone'):
        self.module = module

    def before_test_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model.module if is_model_wrapper(runner.model) else \
            runner.model
        submodule = model.get_submodule(self.module)
        if isinstance(submodule, torch.fx.GraphModule):
            return  # folded by an earlier batch or test
        with torch.no_grad():
            example = model.data_preprocessor(data_batch, False)['inputs']
        model.set_submodule(self.module,
                            fold_permutations(submodule, example[:1]))
        runner.logger.info(f'testing the folded {self.module} '
                           '(channel permutations folded, BN fused)')
