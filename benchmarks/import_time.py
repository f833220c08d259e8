"""What importing mmext costs, against importing torch.

``python benchmarks/import_time.py [--repeats 3] [--baseline DIR]``

``--baseline`` adds ``import mmext`` from another checkout (e.g. the previous
commit: ``git archive HEAD | tar -x -C DIR``), measured in the same run.

Each statement runs in a fresh interpreter (one thread), the statements
alternate inside every repeat, and the medians of wall time and peak RSS are
compared with ``import torch``'s. A statement's time includes the
interpreter's start-up, the same for every row. The last row builds the
quick-start RAFT from its config through the registries, and the table says
which heavy packages each process imported.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import textwrap

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: Packages a flow job never needs.
HEAVY = ('mmpretrain.models', 'mmrazor', 'mmagic', 'transformers')

STATEMENTS = {
    'import torch': 'import torch',
    'import mmext': 'import mmext',
    'import mmext.flow': 'import mmext.flow',
    'RAFT from its config': textwrap.dedent("""
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        import mmext
        from mmext.registry import MODELS
        cfg = Config.fromfile(
            'configs/raft/raft-small_1xb8-600it_flyingshapes-64x96.py')
        init_default_scope(cfg.default_scope)
        MODELS.build(cfg.model)"""),
}

#: Appended to each statement: wall time since start-up, peak RSS, imports.
REPORT = textwrap.dedent(f"""
    import json, resource, sys, time
    print(json.dumps(dict(
        seconds=time.perf_counter() - START,
        rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        heavy=[m for m in {HEAVY!r} if m in sys.modules])))""")


def measure(statement, cwd=REPO):
    # perf_counter is system-wide; the parent passes its reading in the
    # environment, so interpreter start-up is counted too.
    code = ('import os, time\n'
            'START = float(os.environ["MMEXT_T0"])\n' + statement + REPORT)
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env['MMEXT_T0'] = repr(__import__('time').perf_counter())
    result = subprocess.run([sys.executable, '-c', code],
                            cwd=cwd,
                            env=env,
                            capture_output=True,
                            text=True,
                            check=True)
    return json.loads(result.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--baseline', help='another checkout of mmext')
    args = parser.parse_args()
    cases = {name: (statement, REPO) for name, statement in STATEMENTS.items()}
    if args.baseline:
        cases['import mmext (baseline)'] = ('import mmext', args.baseline)
    runs = {name: [] for name in cases}
    for repeat in range(args.repeats):
        names = list(cases) if repeat % 2 == 0 else list(cases)[::-1]
        for name in names:
            runs[name].append(measure(*cases[name]))
    torch_s = statistics.median(r['seconds'] for r in runs['import torch'])
    torch_mib = statistics.median(r['rss_mib'] for r in runs['import torch'])
    print(f'median of {args.repeats} fresh processes, one thread')
    print('| statement | wall (s) | vs import torch | peak RSS (MiB) '
          '| vs import torch | heavy packages imported |')
    print('|---|---|---|---|---|---|')
    for name, results in runs.items():
        seconds = statistics.median(r['seconds'] for r in results)
        mib = statistics.median(r['rss_mib'] for r in results)
        heavy = ', '.join(results[-1]['heavy']) or 'none'
        print(f'| `{name}` | {seconds:.2f} | {seconds / torch_s:.2f} | '
              f'{mib:.0f} | {mib / torch_mib:.2f} | {heavy} |')


if __name__ == '__main__':
    main()
