"""model-index.yml and configs/*/metafile.yml (tools/model_zoo/
make_metafiles.py) list every config, and their parameter counts are those
of the built models."""
import glob
import os.path as osp

import pytest
import yaml

from tests.conftest import REPO


def _load(path):
    with open(osp.join(REPO, path)) as f:
        return yaml.safe_load(f)


def _entries():
    entries = []
    for metafile in _load('model-index.yml')['Import']:
        meta = _load(metafile)
        collections = {c['Name'] for c in meta['Collections']}
        for model in meta['Models']:
            entries.append((metafile, collections, model))
    return entries


def test_every_top_level_config_listed_once_and_existing():
    entries = _entries()
    listed = [model['Config'] for _, _, model in entries]
    configs = sorted(
        osp.relpath(path, REPO)
        for path in glob.glob(osp.join(REPO, 'configs', '*', '*.py'))
        if not osp.basename(osp.dirname(path)).startswith('_'))
    assert sorted(listed) == configs
    for metafile, collections, model in entries:
        assert osp.dirname(model['Config']) == osp.dirname(metafile)
        assert model['Name'] == osp.splitext(osp.basename(
            model['Config']))[0]
        assert model['In Collection'] in collections
        metadata = model['Metadata']
        # Either measured, or the file the model needs is named.
        assert ('Parameters' in metadata) != ('Needs' in metadata), model


def test_mmengine_finds_configs_through_model_index():
    from mmengine.config.utils import _get_cfg_metainfo
    from mmengine.config.config import get_installed_path
    metafile, _, model = _entries()[0]
    found = _get_cfg_metainfo(get_installed_path('mmext'),
                              model['Config'].partition('/')[-1])
    assert found['Config'] == model['Config']


def test_recorded_parameters_match_built_models():
    """Models are built on the meta device (no memory, no init cost) where
    their init allows, once per distinct model dict."""
    from mmext.engine import build_model, load_config
    from mmext.engine.complexity import count_parameters
    counts = {}
    for _, _, model in _entries():
        cfg = load_config(osp.join(REPO, model['Config']))
        key = repr(cfg.model)
        metadata = model['Metadata']
        if 'Needs' in metadata:
            with pytest.raises(FileNotFoundError):
                build_model(cfg)
            continue
        if key not in counts:
            try:
                model_ = build_model(cfg, device='meta')
            except RuntimeError:  # init code that reads values (.item())
                model_ = build_model(cfg)
            counts[key] = count_parameters(model_)
        assert counts[key] == metadata['Parameters'], model['Config']
