import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DIGITS_CONFIG = osp.join(REPO, 'tests', 'data', 'configs',
                         'resnet18_1xb8-4it_digits-32px.py')


def run_tool(*args, env=None, timeout=600):
    """Run a command from the repo root; return the CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=REPO)
    full_env.update(env or {})
    return subprocess.run([str(a) for a in args],
                          cwd=REPO,
                          env=full_env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)


def load_tool(path):
    """Import a script of tools/ or demo/ as a module, to call its ``main``
    in-process (a subprocess spends seconds importing mmext)."""
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def python():
    return sys.executable


@pytest.fixture(autouse=True, scope='module')
def _isolated_default_scope():
    """Runners and ``init_default_scope`` leave their scope current, and every
    later registry lookup would search that scope: each test module starts
    with none (a module that needs one sets it) and the previous state is put
    back afterwards."""
    from mmengine.registry import DefaultScope

    saved = dict(DefaultScope._instance_dict)
    DefaultScope._instance_dict.clear()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)
