"""Install mmext; requirements/ is the single source of the pinned stack."""
import os
import os.path as osp
import re
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def parse_requirements(name):
    """Requirement lines of requirements/<name>.txt, without comments."""
    with open(osp.join(HERE, 'requirements', name + '.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def read_version():
    with open(osp.join(HERE, 'mmext', '__init__.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def add_mim_extension():
    """Put configs/, tools/ and model-index.yml under mmext/.mim/, where mmengine
    resolves ``mmext::<method>/<config>.py`` and openmim finds configs and tools,
    as the OpenMMLab packages do: symlinks into the checkout for an editable (or
    any in-tree) install, real copies for an sdist or a wheel."""
    mode = 'copy' if {'sdist', 'bdist_wheel'} & set(sys.argv) else 'symlink'
    mim_path = osp.join(HERE, 'mmext', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        source = osp.join(HERE, name)
        target = osp.join(mim_path, name)
        if not osp.exists(source):
            continue
        if mode == 'symlink' and osp.islink(target):
            continue
        if osp.islink(target) or osp.isfile(target):
            os.remove(target)
        elif osp.isdir(target):
            shutil.rmtree(target)
        if mode == 'symlink':
            os.symlink(osp.relpath(source, mim_path), target)
        elif osp.isdir(source):
            shutil.copytree(source, target)
        else:
            shutil.copyfile(source, target)


add_mim_extension()
setup(
    name='mmext',
    version=read_version(),
    description='Research methods as drop-in OpenMMLab 2.x components',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmext', 'mmext.*']),
    package_data={
        'mmext': [
            '.mim/model-index.yml', '.mim/configs/**/*.py',
            '.mim/configs/**/*.yml', '.mim/configs/**/*.md',
            '.mim/tools/**/*.py', '.mim/tools/**/*.sh'
        ]
    },
    python_requires='>=3.9',
    # mmagic is absent on purpose: its declared dependencies replace torch, so it
    # is installed with --no-deps (requirements/mmagic.txt); runtime.txt holds
    # what it really needs.
    install_requires=(parse_requirements('torch') +
                      parse_requirements('mminstall') +
                      parse_requirements('runtime')),
    extras_require={
        'tests': parse_requirements('tests'),
        'mim': parse_requirements('mim')
    },
    license='Apache License 2.0',
    zip_safe=False,
)
