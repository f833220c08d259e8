# The search that found FlowNAS-RAFT-S: resource-constrained evolution over
# the FlyingThings3D supernet (population 50, 20 generations, 25 mutations and
# 25 crossovers from the top 10 each, at most 5.2 M parameters); fitness =
# EPE on Sintel clean (train) with 12 refinement iterations plus the
# feature-alignment distance. Run with tools/flownas/search.py (--resume
# continues an interrupted search).
_base_ = ['./flownas-raft_supernet_8xb2-100k_flyingthings3d-400x720.py']

# The supernet checkpoint holds the teacher too.
load_from = 'work_dirs/flownas-raft_supernet_8xb2-100k_flyingthings3d-400x720/iter_100000.pth'  # noqa
model = dict(teacher_ckpt=None)

train_cfg = dict(
    _delete_=True,
    type='mmrazor.FlowNASSearchLoop',
    dataloader={{_base_.val_dataloader}},
    evaluator={{_base_.val_evaluator}},
    max_epochs=20,
    num_candidates=50,
    top_k=10,
    num_mutation=25,
    num_crossover=25,
    mutate_prob=0.1,
    crossover_prob=0.5,
    # M parameters of the standalone RAFT, each counted once. The paper's
    # 5.0 M would exclude both published architectures (FlowNAS-RAFT-S
    # 5.072 M, -K 5.102 M; the released search's own count, with shortcut
    # convolutions that never run, gives 5.146 / 5.169 M): 5.2 M admits
    # them and stays below RAFT's 5.258 M (configs/flownas/README.md).
    constraints_range=dict(params=(0., 5.2)),
    estimator_cfg=dict(
        type='mmrazor.FlowResourceEstimator', input_shape=(1, 6, 440, 1024)),
    score_key='EPE',
    refine_iters=12,
    # Fitness = EPE + 1.0 x the feature-alignment distance to the teacher,
    # as the released search (0 ranks by the EPE alone).
    alignment_weight=1.0,
    calibrate_sample_num=256,
    # best_subnet.py inherits this recipe (relative to the repository root).
    export_base_config=  # noqa
    'configs/flownas/flownas-raft-s_8xb2-100k_flyingthings3d-sintel-368x768.py'
)
val_cfg = None
val_dataloader = None
val_evaluator = None
