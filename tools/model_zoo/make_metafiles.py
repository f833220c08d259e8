"""Write configs/<method>/metafile.yml for every method folder and the root
model-index.yml: ``python tools/model_zoo/make_metafiles.py [FOLDER ...]``.

Parameters and FLOPs come from :mod:`mmext.engine.complexity` (what
tools/analysis_tools/get_flops.py prints) at the input size in each config's
name. Rerunning picks up new folders and configs; hand-written ``Results``
and ``Weights`` of an existing metafile are kept. A config whose model needs a
file produced by another run (a teacher checkpoint, a sparsify run's groups)
is listed without parameters, with that file named under ``Metadata: Needs``.
"""
import argparse
import glob
import os.path as osp
import sys
import warnings

import yaml

import mmext  # noqa: F401  (applies the compatibility layer, registers mmext)
from mmext.engine import cli_main, load_config
from mmext.engine.complexity import input_size, model_complexity

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: folder: (collection, paper title, paper URL, official code URL or None)
PAPERS = {
    'raft': ('RAFT', 'RAFT: Recurrent All-Pairs Field Transforms for Optical '
             'Flow', 'https://arxiv.org/abs/2003.12039',
             'https://github.com/princeton-vl/RAFT'),
    'pwcnet': ('PWC-Net', 'PWC-Net: CNNs for Optical Flow Using Pyramid, '
               'Warping, and Cost Volume', 'https://arxiv.org/abs/1709.02371',
               'https://github.com/NVlabs/PWC-Net'),
    'lcv': ('LCV', 'Learnable Cost Volume Using the Cayley Representation',
            'https://arxiv.org/abs/2007.11431',
            'https://github.com/Prinsphield/LCV'),
    'flownas': ('FlowNAS', 'FlowNAS: Neural Architecture Search for Optical '
                'Flow Estimation', 'https://arxiv.org/abs/2207.01271',
                'https://github.com/VDIGPKU/FlowNAS'),
    'strucspars': ('StrucSpars', 'Structured Sparsification with Joint '
                   'Optimization of Group Convolution and Channel Shuffle',
                   'https://arxiv.org/abs/2002.08127',
                   'https://github.com/Sakura03/StrucSpars'),
    'elegant': ('ELEGANT', 'ELEGANT: Exchanging Latent Encodings with GAN for '
                'Transferring Multiple Face Attributes',
                'https://arxiv.org/abs/1803.10562',
                'https://github.com/Prinsphield/ELEGANT'),
    'dnagan': ('DNA-GAN', 'DNA-GAN: Learning Disentangled Representations '
               'from Multi-Attribute Images', 'https://arxiv.org/abs/1711.05415',
               'https://github.com/Prinsphield/DNA-GAN'),
    'category_names': ('CategoryNames', 'Exploiting Category Names for '
                       'Few-Shot Classification with Vision-Language Models',
                       'https://arxiv.org/abs/2211.16594', None),
    'adaptive_vit_fas': ('AdaptiveViT-FAS', 'Adaptive Transformers for Robust '
                         'Few-shot Cross-domain Face Anti-spoofing',
                         'https://arxiv.org/abs/2203.12175', None),
    'meta_gradient_ssl': ('SemiMeta', 'Semi-Supervised Learning with '
                          'Meta-Gradient', 'https://arxiv.org/abs/2007.03966',
                          None),
    'privacy_adversarial': ('PrivacyAdversarial', 'Adversarial Learning of '
                            'Privacy-Preserving and Task-Oriented '
                            'Representations',
                            'https://arxiv.org/abs/1911.10143', None),
    'contrastive_correspondence': (
        'ContrastiveCorrespondence', 'Learning Contrastive Representation for '
        'Semantic Correspondence', None,
        'https://github.com/NVlabs/Contrastive-Correspondence'),
}
KEPT_KEYS = ('Results', 'Weights')


def method_folders():
    """configs/<method>/ folders holding at least one config."""
    return sorted(
        osp.basename(osp.dirname(path))
        for path in glob.glob(osp.join(REPO, 'configs', '*', ''))
        if not osp.basename(osp.dirname(path)).startswith('_')
        and glob.glob(osp.join(path, '*.py')))


def top_level_configs(folder):
    return sorted(
        osp.relpath(path, REPO)
        for path in glob.glob(osp.join(REPO, 'configs', folder, '*.py')))


def training_data(cfg):
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    return dataset.get('type')


def collection(folder):
    name, title, url, code = PAPERS.get(folder, (folder, None, None, None))
    entry = dict(Name=name)
    if title is None:
        warnings.warn(f'configs/{folder}: no paper in make_metafiles.PAPERS')
        return entry
    entry['Paper'] = dict(Title=title, URL=url) if url else dict(Title=title)
    if code:
        entry['Code'] = dict(URL=code)
    return entry


def model_entry(config, collection_name, cache):
    cfg = load_config(osp.join(REPO, config))
    metadata = dict(**{'Training Data': training_data(cfg)})
    try:
        key = (repr(cfg.model), input_size(cfg, config))
        if key not in cache:
            cache[key] = model_complexity(cfg, config)
        result = cache[key]
        metadata.update(Parameters=result.params, FLOPs=result.flops,
                        **{'FLOPs Input': 'x'.join(map(str,
                                                       result.input_shape)),
                           'FLOPs Part': result.part})
    except FileNotFoundError as error:
        metadata['Needs'] = str(error.filename or error).split(': ')[-1]
    return dict(Name=osp.splitext(osp.basename(config))[0],
                **{'In Collection': collection_name},
                Config=config, Metadata=metadata)


def write_metafile(folder, cache):
    path = osp.join(REPO, 'configs', folder, 'metafile.yml')
    old = {}
    if osp.exists(path):
        with open(path) as f:
            old = {m['Name']: m for m in (yaml.safe_load(f) or {}).get(
                'Models', [])}
    coll = collection(folder)
    models = []
    for config in top_level_configs(folder):
        entry = model_entry(config, coll['Name'], cache)
        entry.update({k: v for k, v in old.get(entry['Name'], {}).items()
                      if k in KEPT_KEYS})
        models.append(entry)
        print(f'{config}: {entry["Metadata"]}', flush=True)
    with open(path, 'w') as f:
        f.write('# Written by tools/model_zoo/make_metafiles.py; Parameters and '
                'FLOPs\n# (multiply-adds) from tools/analysis_tools/'
                'get_flops.py.\n')
        yaml.safe_dump(dict(Collections=[coll], Models=models), f,
                       sort_keys=False, width=100)


def write_model_index():
    imports = [f'configs/{folder}/metafile.yml' for folder in method_folders()
               if osp.exists(osp.join(REPO, 'configs', folder, 'metafile.yml'))]
    with open(osp.join(REPO, 'model-index.yml'), 'w') as f:
        yaml.safe_dump(dict(Import=imports), f, sort_keys=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('folders', nargs='*',
                        help='configs/ folders to (re)write (default: all)')
    args = parser.parse_args(argv)
    cache = {}
    for folder in args.folders or method_folders():
        write_metafile(folder, cache)
    write_model_index()


if __name__ == '__main__':
    cli_main(main)(sys.argv[1:])
