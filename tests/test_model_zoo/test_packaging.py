"""mmext's configs are installed inside the package (``mmext/.mim/``), so a
project outside the repository can inherit ``mmext::<method>/<config>.py``."""
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

from tests.conftest import REPO

# Run outside the checkout: mmext must come from the installed package, not
# from the current directory or PYTHONPATH.
CHILD_SCRIPT = textwrap.dedent('''
    import json, sys
    import mmext
    from mmengine.config import Config
    from mmext.registry import MODELS

    report = {'mmext': mmext.__file__}
    for name, base in [('raft', 'raft/raft-small_1xb8-600it_flyingshapes-64x96.py'),
                       ('lcv', 'lcv/raft-small-lcv_1xb8-600it_flyingshapes-64x96.py')]:
        with open(name + '.py', 'w') as f:
            f.write(f"_base_ = ['mmext::{base}']\\n"
                    "model = dict(decoder=dict(iters=3))\\n")
        cfg = Config.fromfile(name + '.py')
        model = MODELS.build(cfg.model)
        report[name] = dict(
            iters=cfg.model.decoder.iters,
            encoder=cfg.model.encoder.to_dict(),
            decoder_type=cfg.model.decoder.type,
            train_iters=cfg.train_cfg.max_iters,
            params=sum(p.numel() for p in model.parameters()))
    print(json.dumps(report))
''')


def _repo_model(base):
    from mmengine.config import Config

    from mmext.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, 'configs', base))
    return cfg, MODELS.build(cfg.model)


def test_two_line_config_outside_repo_inherits_mmext_configs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    result = subprocess.run([sys.executable, '-W', 'ignore', '-c',
                             CHILD_SCRIPT], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not osp.realpath(report['mmext']).startswith(str(tmp_path))
    for name, base in [
        ('raft', 'raft/raft-small_1xb8-600it_flyingshapes-64x96.py'),
        ('lcv', 'lcv/raft-small-lcv_1xb8-600it_flyingshapes-64x96.py')
    ]:
        cfg, model = _repo_model(base)
        child = report[name]
        # The child's one override wins over the parent's 6 iterations ...
        assert cfg.model.decoder.iters == 6 and child['iters'] == 3
        # ... and everything else is the parent's, down to its own _base_.
        assert child['encoder'] == cfg.model.encoder.to_dict()
        assert child['decoder_type'] == cfg.model.decoder.type
        assert child['train_iters'] == cfg.train_cfg.max_iters == 600
        assert child['params'] == sum(p.numel() for p in model.parameters())
    assert report['lcv']['params'] != report['raft']['params']


def test_mim_folder_holds_configs_tools_and_model_index():
    import mmext
    from mmengine.config.config import get_installed_path
    mim = osp.join(get_installed_path('mmext'), '.mim')
    assert osp.samefile(osp.dirname(mmext.__file__), osp.dirname(mim))
    for name in ['configs/raft/README.md', 'tools/train.py',
                 'tools/test.py', 'model-index.yml']:
        with open(osp.join(mim, name)) as installed, \
                open(osp.join(REPO, name)) as source:
            assert installed.read() == source.read(), name
