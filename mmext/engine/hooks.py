"""Hooks that keep training from losing work or silently ignoring weights.

mmengine's ``CheckpointHook`` deletes the oldest kept checkpoint before the new
one is written: a run killed during the save of ``max_keep_ckpts=1`` has no
checkpoint left, and ``last_checkpoint`` names a file that does not exist.
:class:`CrashSafeCheckpointHook` writes first and deletes afterwards; ``import
mmext`` makes it the ``CheckpointHook`` every config builds.

mmengine's Runner loads ``load_from`` and resume checkpoints non-strictly: the
weights of another model only log a warning and training starts from scratch.
:class:`CheckpointFitHook` refuses such a checkpoint before it is loaded.
"""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS as MMENGINE_HOOKS

from mmext.checkpoint import CheckpointError, load_state_dict_exactly

__all__ = ['CheckpointFitHook', 'CrashSafeCheckpointHook',
           'optional_checkpoint_keys']

#: A module class lists here the names of its parameters that checkpoints of
#: models without the module lack, and whose initial values make the module
#: reproduce the model without it (LCV's ``raw_A`` / ``raw_D``): loading such
#: a checkpoint with ``load_from`` is exact although those keys are missing.
OPTIONAL_KEYS_ATTRIBUTE = 'checkpoint_optional_keys'


def optional_checkpoint_keys(model):
    """The keys of ``model`` that its modules declare optional in checkpoints
    (:data:`OPTIONAL_KEYS_ATTRIBUTE`)."""
    return [
        f'{prefix}.{name}' if prefix else name
        for prefix, module in model.named_modules()
        for name in getattr(type(module), OPTIONAL_KEYS_ATTRIBUTE, ())
    ]


class CrashSafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook``, ordered so that a kill at any moment
    leaves a loadable checkpoint that ``last_checkpoint`` names.

    Each save: remove the temporary files of writes that were killed (every
    local file is written to a temporary file and renamed, see
    :mod:`mmext.checkpoint`), write the new checkpoint, point
    ``last_checkpoint`` at it (atomically as well), and only then delete the
    checkpoints beyond ``max_keep_ckpts`` (and the previous best checkpoint
    when a new best one is saved). A kill between the last two steps leaves
    one outdated checkpoint on disk for good: the resumed run no longer
    counts it. Arguments are those of ``CheckpointHook``.
    """

    def _save_checkpoint_with_step(self, runner, step, meta):
        if is_main_process():
            self._remove_killed_writes(runner)
        outdated = self._retire_outdated(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        # LocalBackend.put writes atomically once mmext.checkpoint is applied.
        LocalBackend().put(
            str(self.last_ckpt).encode(),
            osp.join(runner.work_dir, 'last_checkpoint'))
        for path in outdated:
            _remove(self.file_backend, path)

    def _save_best_checkpoint(self, runner, metrics):
        # Upstream deletes the previous best checkpoint before it writes the
        # new one: hold every deletion back until the writes are done.
        backend = self.file_backend
        self.file_backend = deferred = _DeferredRemovals(backend)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        for path in deferred.paths:
            _remove(backend, path)

    def _retire_outdated(self, runner, step):
        """Record ``step`` among the kept checkpoints; return the paths of
        those it pushes out (not yet deleted)."""
        if self.max_keep_ckpts <= 0:
            return []
        if self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step:
            return []  # the same step saved again after a new best score
        outdated = []
        while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
            outdated.append(self.file_backend.join_path(
                self.out_dir,
                self.filename_tmpl.format(self.keep_ckpt_ids.popleft())))
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
        return outdated

    def _remove_killed_writes(self, runner):
        # out_dir may name remote storage, which holds no such files.
        for directory in {runner.work_dir, str(self.out_dir)}:
            if not osp.isdir(directory):
                continue
            # The temporary names of mmext.checkpoint's atomic writes.
            for path in glob.glob(osp.join(glob.escape(directory), '.*.tmp')):
                os.remove(path)
                runner.logger.warning(
                    f'Removed {path}, left by a write that was interrupted')


def _remove(backend, path):
    if backend.isfile(path):
        backend.remove(path)
    elif backend.isdir(path):  # DeepSpeed checkpoints are folders
        backend.rmtree(path)


class _DeferredRemovals:
    """A file backend that records removals instead of doing them."""

    def __init__(self, backend):
        self._backend = backend
        self.paths = []

    def remove(self, path):
        self.paths.append(path)

    rmtree = remove

    def __getattr__(self, name):
        return getattr(self._backend, name)


def _install_crash_safe_checkpoint_hook():
    """Make ``type='CheckpointHook'`` build :class:`CrashSafeCheckpointHook`
    in every scope (mmext, mmpretrain, mmrazor, mmagic, mmengine), unless
    something else already replaced upstream's entry."""
    if MMENGINE_HOOKS.get('CheckpointHook') is CheckpointHook:
        MMENGINE_HOOKS.register_module(
            name='CheckpointHook', module=CrashSafeCheckpointHook, force=True)


class CheckpointFitHook(Hook):
    """Refuse a checkpoint whose weights do not fit the model, before the
    Runner loads it.

    The check is that of ``tools/test.py`` (every key and shape must match),
    except for the keys the model's modules declare optional
    (:func:`optional_checkpoint_keys`). When resuming, the file must also
    hold the training state, not only weights.

    Args:
        filename (str): The checkpoint, named in the error.
        resume (bool): Whether the Runner resumes from it.
    """

    priority = 'VERY_HIGH'

    def __init__(self, filename, resume=False):
        self.filename = filename
        self.resume = resume

    def after_load_checkpoint(self, runner, checkpoint):
        if self.resume and not (isinstance(checkpoint, dict)
                                and 'meta' in checkpoint):
            raise CheckpointError(
                f'Cannot resume from {self.filename}: it holds model weights '
                'only, not a training checkpoint (no "meta"); start from '
                f'these weights with --cfg-options load_from={self.filename}')
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        load_state_dict_exactly(model, checkpoint, self.filename,
                                optional_checkpoint_keys(model))


_install_crash_safe_checkpoint_hook()
