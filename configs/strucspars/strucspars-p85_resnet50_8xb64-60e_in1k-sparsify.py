# strucspars-p65_resnet50_8xb64-60e_in1k-sparsify.py
# with 85% of the conv weights targeted
# (paper: 5.6 M params, 0.90 GFLOPs, 72.47 top-1).
# Export with --prune-ratio 0.85, then fine-tune with
# strucspars-p85_resnet50_8xb64-120e-coslr_in1k-finetune.py.
_base_ = ['./strucspars-p65_resnet50_8xb64-60e_in1k-sparsify.py']

custom_hooks = [
    dict(
        type='mmrazor.PermutationUpdateHook',
        start_iters=50,
        epoch_iters=20,
        interval=500,
        interval_iters=5),
    dict(
        type='mmrazor.SparsityLambdaHook',
        target_ratio=0.85,
        delta=2e-6,
        warmup_epochs=5),
]
