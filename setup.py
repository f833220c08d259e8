"""Install mmext; requirements/ is the single source of the pinned stack."""
import os.path as osp
import re

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


setup(
    name='mmext',
    version=read_version(),
    description='Research methods as drop-in OpenMMLab 2.x components',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmext', 'mmext.*']),
    python_requires='>=3.9',
    # mmagic is absent on purpose: its declared dependencies replace torch, so it
    # is installed with --no-deps (requirements/mmagic.txt); runtime.txt holds
    # what it really needs.
    install_requires=(parse_requirements('torch') +
                      parse_requirements('mminstall') +
                      parse_requirements('runtime')),
    extras_require={'tests': parse_requirements('tests')},
    license='Apache License 2.0',
    zip_safe=False,
)
