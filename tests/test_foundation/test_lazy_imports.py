"""``import mmext`` imports no method family and no upstream model package;
each family, and each shim of an upstream package, arrives with its first use.

Each check runs in a fresh interpreter: the test process has imported
everything long before.
"""
import importlib
import json
import subprocess
import sys
import textwrap

from mmext import compat

from ..conftest import REPO

#: Heavy packages a flow job never needs.
NOT_FOR_FLOW = ('mmagic', 'transformers', 'mmrazor', 'mmpretrain.models',
                'mmext.classification', 'mmext.generation', 'mmext.razor')


def run_python(code):
    """Run ``code`` in a fresh interpreter; return what it prints as JSON."""
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_import_mmext_imports_no_family_and_no_upstream_models():
    loaded = run_python(f"""
        import json, sys
        import mmext
        print(json.dumps([m for m in {NOT_FOR_FLOW + ('mmext.flow', 'torch')!r}
                          if m in sys.modules]))
    """)
    assert loaded == []


def test_flow_config_builds_without_other_families():
    # Through the registries alone (a config's default_scope='mmext'), and
    # through `import mmext.flow`.
    out = run_python(f"""
        import json, sys
        import torch
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        import mmext
        from mmext.registry import DATASETS, METRICS, MODELS

        cfg = Config.fromfile(
            'configs/raft/raft-small_1xb8-600it_flyingshapes-64x96.py')
        init_default_scope(cfg.default_scope)
        model = MODELS.build(cfg.model)
        dataset = DATASETS.build(cfg.val_dataloader.dataset)
        metric = METRICS.build(cfg.val_evaluator[0])
        with torch.no_grad():
            flow = model(torch.zeros(1, 6, 64, 96), mode='tensor')
        import mmext.flow
        print(json.dumps(dict(
            classes=[type(x).__name__ for x in (model, dataset, metric)],
            flow_shape=list(flow.shape),
            loaded=[m for m in {NOT_FOR_FLOW!r} if m in sys.modules])))
    """)
    assert out['loaded'] == []
    assert out['classes'] == ['RAFT', 'FlyingShapes', 'EndPointError']
    assert out['flow_shape'] == [1, 2, 64, 96]


def test_upstream_families_register_at_first_lookup_with_their_shims():
    out = run_python("""
        import json, sys
        import mmext
        from mmext import compat
        from mmpretrain.registry import MODELS as PRETRAIN
        from mmrazor.registry import MODELS as RAZOR

        found = dict(
            head=PRETRAIN.get('NameInitClsHead').__module__,
            clip=PRETRAIN.get('CLIPZeroShot').__module__,
            flownas=RAZOR.get('FlowNAS').__module__,
            spos=RAZOR.get('SPOS').__module__)  # mmrazor's own fallback
        mmagic_before = 'mmagic' in sys.modules
        from mmagic.registry import MODELS as MMAGIC
        found['elegant'] = MMAGIC.get('ELEGANT').__module__
        print(json.dumps(dict(found=found, mmagic_before=mmagic_before,
                              applied=compat.APPLIED)))
    """)
    assert out['found'] == dict(
        head='mmext.classification.heads.name_init_head',
        clip='mmpretrain.models.multimodal.clip.clip',
        flownas='mmext.razor.flownas.algorithm',
        spos='mmrazor.models.algorithms.nas.spos',
        elegant='mmext.generation.elegant')
    assert out['mmagic_before'] is False
    # Each shim acted, before the upstream code that needs it ran.
    assert {'quantization_names', 'mmpretrain_clip',
            'int_adam_betas'} <= set(out['applied'])


def test_registries_used_before_import_mmext_still_find_mmext():
    found = run_python("""
        import json
        from mmpretrain.registry import MODELS
        MODELS.get('ResNet')  # the registry has imported its modules
        import mmext
        print(json.dumps(MODELS.get('NameInitClsHead').__name__))
    """)
    assert found == 'NameInitClsHead'


def test_when_imported_runs_shims_around_the_first_execution(
        tmp_path, monkeypatch):
    (tmp_path / 'lazy_probe.py').write_text(
        'import events\nevents.append("executed")\n')
    events = []
    monkeypatch.setitem(sys.modules, 'events', events)
    monkeypatch.syspath_prepend(str(tmp_path))
    compat.when_imported('lazy_probe', lambda: events.append('before'),
                         before=True)
    compat.when_imported('lazy_probe', lambda: events.append('after'))
    # Finding the module is not importing it: the shims wait.
    assert importlib.util.find_spec('lazy_probe') is not None
    assert events == []
    module = importlib.import_module('lazy_probe')
    assert events == ['before', 'executed', 'after']
    # The module keeps its own loader, and an imported module runs a new
    # shim at once.
    assert type(module.__loader__).__name__ == 'SourceFileLoader'
    compat.when_imported('lazy_probe', lambda: events.append('now'))
    assert events[-1] == 'now'
    monkeypatch.delitem(sys.modules, 'lazy_probe')
