# FlowNAS on the CPU, step 2 of the end-to-end run (README): evolutionary
# search over the CPU supernet with a tiny population (8, 3 generations of 4
# mutations and 4 crossovers from the top 3), constrained in parameters (the
# bound passes about half of the random subnets), FLOPs and measured latency;
# fitness = EPE on 8 FlyingShapes validation pairs with 12 refinement
# iterations. The best subnet is exported as a standalone RAFT inheriting the
# quick-start recipe (best_subnet.py / .pth in the work dir).
_base_ = ['./flownas-raft-small_supernet_1xb2-200it_flyingshapes-64x96.py']

load_from = 'work_dirs/flownas-raft-small_supernet_1xb2-200it_flyingshapes-64x96/iter_200.pth'  # noqa
# The supernet checkpoint holds the teacher too.
model = dict(teacher_ckpt=None)

train_cfg = dict(
    _delete_=True,
    type='mmrazor.FlowNASSearchLoop',
    dataloader=dict(
        batch_size=4,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='FlyingShapes',
            num_samples=8,
            split='val',
            seed=0,
            img_size={{_base_.img_size}},
            shape_cfg={{_base_.shape_cfg}},
            pipeline=[dict(type='PackFlowInputs')])),
    evaluator=dict(type='EndPointError'),
    max_epochs=3,
    num_candidates=8,
    top_k=3,
    num_mutation=4,
    num_crossover=4,
    mutate_prob=0.1,
    crossover_prob=0.5,
    # M parameters, G FLOPs, ms on a (1, 6, 96, 128) pair.
    constraints_range=dict(
        params=(0., 3.55), flops=(0., 20.), latency=(0., 5000.)),
    estimator_cfg=dict(
        type='mmrazor.FlowResourceEstimator',
        input_shape=(1, 6, 96, 128),
        latency_cfg=dict(num_warmup=1, num_iters=3)),
    score_key='EPE',
    refine_iters=12,
    # As in the run measured in the README (EPE alone); the default, 1.0,
    # adds the feature-alignment distance as the paper-scale searches do.
    alignment_weight=0.,
    calibrate_sample_num=16,
    export_base_config='configs/raft/raft-small_1xb8-600it_flyingshapes-64x96.py'  # noqa
)
val_cfg = None
val_dataloader = None
val_evaluator = None
