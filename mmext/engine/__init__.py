"""Runner-level helpers shared by mmext's command-line tools, and the hooks
that keep training from losing checkpoints or ignoring weights."""
from .cli import (DictAction, UserError, build_model, build_runner,
                  check_not_swapped, cli_main, init_cpu_distributed,
                  load_config, set_work_dir)
from .hooks import (CheckpointFitHook, CrashSafeCheckpointHook,
                    optional_checkpoint_keys)

__all__ = [
    'CheckpointFitHook', 'CrashSafeCheckpointHook', 'optional_checkpoint_keys',
    'DictAction', 'UserError', 'build_model', 'build_runner',
    'check_not_swapped', 'cli_main',
    'init_cpu_distributed', 'load_config', 'set_work_dir'
]
