"""What tools/train.py and tools/test.py share: config loading, CPU
distributed start-up and one-line errors for bad input."""
import ast
import functools
import os
import os.path as osp
import re
import sys
import warnings
from contextlib import nullcontext

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.config import DictAction as _MMEngineDictAction
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from torch import nn

from mmext.errors import UserError

__all__ = ['DictAction', 'UserError', 'build_runner', 'check_not_swapped',
           'cli_main', 'init_cpu_distributed', 'load_config', 'set_work_dir']

CONFIG_SUFFIXES = ('.py', '.json', '.yaml', '.yml')
CHECKPOINT_SUFFIXES = ('.pth', '.pt', '.ckpt', '.bin', '.pkl', '.pickle')


class DictAction(_MMEngineDictAction):
    """mmengine's ``--cfg-options`` parser, naming a pair without ``=``
    (upstream fails on it with a bare unpacking traceback)."""

    def __call__(self, parser, namespace, values, option_string=None):
        for pair in values:
            if '=' not in pair:
                raise UserError(f'{option_string} takes key=value pairs, got '
                                f'{pair!r}')
        super().__call__(parser, namespace, values, option_string)


def load_config(path, cfg_options=None):
    """Read a config file, naming the file (and line) when it cannot be used.

    Args:
        path (str): The config file.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
    """
    if osp.isdir(path):
        raise UserError(f'Config {path} is a folder, not a config file')
    if not osp.isfile(path):
        raise FileNotFoundError(f'Config file not found: {path}')
    if not path.endswith(CONFIG_SUFFIXES):
        raise UserError(f'Config {path} is not a config file (expected one of '
                        f'{", ".join(CONFIG_SUFFIXES)})')
    try:
        cfg = Config.fromfile(path)
    except SyntaxError as error:
        raise UserError(_syntax_error_message(path, error)) from None
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _syntax_error_message(path, error):
    # mmengine parses configs without their names ('<unknown>'), so find the
    # file, the config or one of its _base_ files, again.
    found = _first_syntax_error(path)
    if found is None:
        return str(error)
    return (f'syntax error in config {found.filename}, line {found.lineno}: '
            f'{found.msg}')


def _first_syntax_error(path):
    """The SyntaxError of ``path`` or of its ``_base_`` files, depth first."""
    with open(path, encoding='utf-8') as f:
        source = f.read()
    try:
        ast.parse(source, filename=path)
    except SyntaxError as error:
        return error
    for base in Config._get_base_files(path):
        base_path, _ = Config._get_cfg_path(base, path)
        if base_path.endswith('.py'):
            found = _first_syntax_error(base_path)
            if found is not None:
                return found
    return None


def check_not_swapped(config, checkpoint):
    """Refuse a checkpoint given as the config or a config as the checkpoint.

    Args:
        config (str): The CONFIG argument.
        checkpoint (str): The CHECKPOINT argument.
    """
    if config.endswith(CHECKPOINT_SUFFIXES) or checkpoint.endswith(
            CONFIG_SUFFIXES):
        raise UserError(
            f'CONFIG {config} looks like a checkpoint or CHECKPOINT '
            f'{checkpoint} like a config: the config comes first '
            '(CONFIG CHECKPOINT)')


def set_work_dir(cfg, work_dir, config_path):
    """``--work-dir`` if given, else the config's, else work_dirs/<config name>.

    Args:
        cfg (Config): The config to update.
        work_dir (str, optional): The ``--work-dir`` value.
        config_path (str): The config file, whose name names the default.
    """
    if work_dir is not None:
        if osp.exists(work_dir) and not osp.isdir(work_dir):
            raise UserError(f'--work-dir {work_dir} is a file, not a folder')
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])


def _cpu_distributed(launcher):
    return launcher == 'pytorch' and not torch.cuda.is_available()


def init_cpu_distributed(cfg, launcher):
    """Prepare ``--launcher pytorch`` on hosts without CUDA: gloo, CPU DDP.

    mmengine's ``init_dist`` pins a CUDA device unconditionally and its DDP
    wrapper passes ``device_ids=[LOCAL_RANK]``; both fail on a CPU-only host.
    Once a process group exists, the Runner uses it as it is. Without a
    ``model_wrapper_cfg``, the wrapper gets the settings mmengine gives it on
    GPUs (``broadcast_buffers=False``, the config's
    ``find_unused_parameters``). SyncBN layers, which torch's DDP refuses on
    the CPU, become BatchNorm in :func:`build_runner`.

    Args:
        cfg (Config): The config; its ``model_wrapper_cfg`` gets
            ``device_ids=None`` unless it sets them.
        launcher (str): The ``--launcher`` value.
    """
    if not _cpu_distributed(launcher):
        return
    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_cfg.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper_cfg
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo')


class _RevertsSyncBN:
    """Runner mixin for CPU distributed runs: SyncBatchNorm layers become
    BatchNorm before the model is wrapped (torch's DDP refuses SyncBN on the
    CPU). Each rank then normalises with its own batch statistics and keeps
    its own running statistics; rank 0 saves the checkpoints, so theirs are
    the ones saved."""

    def wrap_model(self, model_wrapper_cfg, model):
        sync_bn = sum(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
        if sync_bn and not is_model_wrapper(model):
            model = revert_sync_batchnorm(model)
            self.logger.info(
                f'CPU distributed training: {sync_bn} SyncBatchNorm layers '
                'reverted to BatchNorm (SyncBN needs CUDA); each rank uses '
                'its own batch statistics, and checkpoints (saved by rank 0) '
                "hold rank 0's running statistics")
        return super().wrap_model(model_wrapper_cfg, model)


def build_runner(cfg):
    """Build the Runner a config asks for (``runner_type`` or the default);
    in CPU distributed runs (``cfg.launcher``), one that reverts SyncBN."""
    if not _cpu_distributed(cfg.get('launcher')):
        if 'runner_type' in cfg:
            return RUNNERS.build(cfg)
        return Runner.from_cfg(cfg)
    runner_type = cfg.get('runner_type', 'Runner')
    runner_cls = runner_type if isinstance(runner_type, type) else (
        RUNNERS.get(runner_type))
    if runner_cls is None:
        raise KeyError(f'{runner_type} is not in the runner registry')
    return type(runner_cls.__name__, (_RevertsSyncBN, runner_cls),
                {}).from_cfg(cfg)


def build_model(cfg, checkpoint=None, device='cpu'):
    """The model of a config, as ``tools/test.py``'s Runner builds it (in the
    config's default scope, after its custom imports) with the weights of
    ``checkpoint`` loaded by the exact-fit check, in eval mode on ``device``.

    Args:
        cfg (str | Config): A config file or a loaded config.
        checkpoint (str, optional): A checkpoint file. Defaults to None
            (the model's initialisation).
        device (str): Defaults to 'cpu'. ``'meta'`` builds the parameters
            without memory or initialisation, which is enough to count them.

    Returns:
        nn.Module: The model.
    """
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.utils import import_modules_from_strings

    from mmext.checkpoint import load_model_weights

    if isinstance(cfg, str):
        cfg = load_config(cfg)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmext'))
    # Any other device gets what the Runner builds (on the CPU), moved.
    with torch.device('meta') if device == 'meta' else nullcontext():
        model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_model_weights(model, checkpoint)
    return model.to(device).eval()


_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError,
                NotADirectoryError, PermissionError)


def _is_user_error(error):
    if isinstance(error, KeyError):  # an unknown ``type=`` name
        return 'registry' in str(error)
    if isinstance(error, OSError):
        # A file the OS could not open or write, not, e.g., a lost connection
        # (a DataLoader worker's error comes back without its filename).
        return error.filename is not None or isinstance(error, _FILE_ERRORS)
    return isinstance(error, UserError)


# The last line of a traceback that a DataLoader worker sends back in the
# message: 'package.module.ErrorType: message'.
_WORKER_TRACEBACK = re.compile(r'Original Traceback.*\n(?:[\w.]+: )?(.+)$',
                               re.DOTALL)


def _one_line(error):
    if isinstance(error, OSError) and error.filename is not None:
        names = error.filename if error.filename2 is None else (
            f'{error.filename} -> {error.filename2}')
        return f'{names}: {error.strerror}'
    message = str(error.args[0]) if error.args else str(error)
    worker = _WORKER_TRACEBACK.search(message.rstrip())
    if worker:
        message = worker.group(1)
    return ' '.join(line.strip() for line in message.strip().splitlines())


def cli_main(main):
    """Run a tool's ``main`` and turn bad input into one line on stderr.

    Bad input is the user's to fix, so it gets one ``error:`` line naming the
    file, key or value, no traceback, and exit status 1: a
    :class:`~mmext.errors.UserError` (unreadable checkpoints, malformed
    flow files, empty datasets, bad arguments, config syntax errors), a file
    the OS cannot open, an unknown ``type=`` name. ``MMEXT_DEBUG=1`` shows the
    traceback anyway. Anything else propagates unchanged.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        # Upstream packages import setuptools' pkg_resources while a Runner is
        # built; its deprecation notice is nothing a user of the tools can act
        # on and would bury the one line that matters.
        warnings.filterwarnings(
            'ignore', message='pkg_resources is deprecated',
            category=UserWarning)
        try:
            return main(*args, **kwargs)
        except (UserError, OSError, KeyError) as error:
            if not _is_user_error(error) or os.environ.get('MMEXT_DEBUG'):
                raise
            print(f'error: {_one_line(error)}', file=sys.stderr)
            sys.exit(1)
        finally:
            # A gloo group left to interpreter teardown can abort the process
            # ("terminate called without an active exception") after the
            # run has finished, turning a good run into a failed exit code.
            if torch_dist.is_available() and torch_dist.is_initialized():
                torch_dist.destroy_process_group()

    return wrapper
