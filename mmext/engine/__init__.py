"""Runner-level helpers shared by mmext's command-line tools."""
from .cli import (build_runner, cli_main, init_cpu_distributed,
                  load_config, set_work_dir)

__all__ = [
    'build_runner', 'cli_main', 'init_cpu_distributed', 'load_config',
    'set_work_dir'
]
