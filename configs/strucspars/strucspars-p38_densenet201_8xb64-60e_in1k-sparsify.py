# Structured sparsification of DenseNet-201 on ImageNet with the recipe of
# strucspars-p65_resnet50_8xb64-60e_in1k-sparsify.py; 38% of the conv
# weights targeted (paper: 13.1 M params, 3.53 GFLOPs, 77.43 top-1). Export
# with --prune-ratio 0.38, then fine-tune with
# strucspars-p38_densenet201_8xb64-120e-coslr_in1k-finetune.py.
_base_ = ['mmpretrain::densenet/densenet201_4xb256_in1k.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

architecture = _base_.model
architecture.update(
    _scope_='mmpretrain', data_preprocessor=_base_.data_preprocessor)
model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='StructuredSparsification',
    architecture=architecture,
    power=0.5,
    train_threshold=0.1,
    # The architecture brings its own data preprocessor.
    data_preprocessor=None)

train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=0.1, momentum=0.9, weight_decay=0.0))
param_scheduler = []
train_cfg = dict(max_epochs=60, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)

custom_hooks = [
    dict(
        type='mmrazor.PermutationUpdateHook',
        start_iters=50,
        epoch_iters=20,
        interval=500,
        interval_iters=5),
    dict(
        type='mmrazor.SparsityLambdaHook',
        target_ratio=0.38,
        delta=2e-6,
        warmup_epochs=5),
]
