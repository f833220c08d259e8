"""What tools/train.py and tools/test.py share: config loading, CPU
distributed start-up and one-line errors for bad input."""
import functools
import os
import os.path as osp
import sys

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmext.checkpoint import CheckpointError

__all__ = ['DictAction', 'build_runner', 'cli_main', 'init_cpu_distributed',
           'load_config', 'set_work_dir']


def load_config(path, cfg_options=None):
    """Read a config file, with a clear error when it does not exist.

    Args:
        path (str): The config file.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def set_work_dir(cfg, work_dir, config_path):
    """``--work-dir`` if given, else the config's, else work_dirs/<config name>.

    Args:
        cfg (Config): The config to update.
        work_dir (str, optional): The ``--work-dir`` value.
        config_path (str): The config file, whose name names the default.
    """
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])


def init_cpu_distributed(cfg, launcher):
    """Prepare ``--launcher pytorch`` on hosts without CUDA: gloo, CPU DDP.

    mmengine's ``init_dist`` pins a CUDA device unconditionally and its DDP
    wrapper passes ``device_ids=[LOCAL_RANK]``; both fail on a CPU-only host.
    Once a process group exists, the Runner uses it as it is.

    Args:
        cfg (Config): The config; its ``model_wrapper_cfg`` gets
            ``device_ids=None`` unless it sets them.
        launcher (str): The ``--launcher`` value.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return
    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper_cfg.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper_cfg
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo')


def build_runner(cfg):
    """Build the Runner a config asks for (``runner_type`` or the default)."""
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def _is_registry_miss(error):
    return isinstance(error, KeyError) and 'registry' in str(error)


def cli_main(main):
    """Run a tool's ``main`` and turn bad input into one line on stderr.

    Missing files, unknown ``type=`` names and unreadable checkpoints are the
    user's to fix, so they get the message without a traceback; set
    ``MMEXT_DEBUG=1`` to see it anyway. Anything else propagates unchanged.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except (FileNotFoundError, CheckpointError, KeyError) as error:
            user_error = (not isinstance(error, KeyError)
                          or _is_registry_miss(error))
            if not user_error or os.environ.get('MMEXT_DEBUG'):
                raise
            message = error.args[0] if error.args else str(error)
            print(f'error: {message}', file=sys.stderr)
            sys.exit(1)

    return wrapper
