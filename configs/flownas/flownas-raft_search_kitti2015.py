# The search that found FlowNAS-RAFT-K: as the Sintel search, with fitness =
# KITTI 2015 (train) Fl-all with 12 refinement iterations plus the
# feature-alignment distance.
_base_ = [
    './flownas-raft_supernet_8xb2-100k_flyingthings3d-400x720.py',
]

kitti = dict(
    type='KITTI2015',
    data_root='data/kitti2015',
    test_mode=True,
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', sparse=True),
        dict(type='PackFlowInputs')
    ])

load_from = 'work_dirs/flownas-raft_supernet_8xb2-100k_flyingthings3d-400x720/iter_100000.pth'  # noqa
model = dict(teacher_ckpt=None)

train_cfg = dict(
    _delete_=True,
    type='mmrazor.FlowNASSearchLoop',
    dataloader=dict(
        batch_size=1,
        num_workers=2,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=kitti),
    evaluator=[dict(type='EndPointError', average='image'),
               dict(type='FlowOutliers')],
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
        type='mmrazor.FlowResourceEstimator', input_shape=(1, 6, 376, 1248)),
    score_key='Fl',
    refine_iters=12,
    # Fitness = Fl + 1.0 x the feature-alignment distance to the teacher,
    # as the released search.
    alignment_weight=1.0,
    calibrate_sample_num=256,
    export_base_config='configs/flownas/flownas-raft-k_8xb2-50k_kitti2015-288x960.py'  # noqa
)
val_cfg = None
val_dataloader = None
val_evaluator = None
