# strucspars-p65_resnet101_8xb64-60e_in1k-sparsify.py
# with 40% of the conv weights targeted
# (paper: 26.7 M params, 5.05 GFLOPs, 78.16 top-1).
# Export with --prune-ratio 0.40, then fine-tune with
# strucspars-p40_resnet101_8xb64-120e-coslr_in1k-finetune.py.
_base_ = ['./strucspars-p65_resnet101_8xb64-60e_in1k-sparsify.py']

custom_hooks = [
    dict(
        type='mmrazor.PermutationUpdateHook',
        start_iters=50,
        epoch_iters=20,
        interval=500,
        interval_iters=5),
    dict(
        type='mmrazor.SparsityLambdaHook',
        target_ratio=0.40,
        delta=2e-6,
        warmup_epochs=5),
]
