"""Write the embedded procedural face set in CelebA's layout.

    python tools/generation/make_procedural_faces.py data/procedural_faces \
        [--num-images 2000] [--size 178 218] [--seed 0]

See :mod:`mmext.generation.datasets.procedural_faces`.
"""
from mmext.generation.datasets.procedural_faces import main

if __name__ == '__main__':
    main()
