# Structured sparsification of the dense digits ResNet-20 towards 50% of its
# conv weights. Starts from the dense run's checkpoint; lambda's step is scaled
# up from the paper's 2e-6 because an epoch here is 45 iterations, not 780.
_base_ = ['./cifar-resnet20_1xb32-15e_digits-32px.py']

dense_checkpoint = 'work_dirs/cifar-resnet20_1xb32-15e_digits-32px/epoch_15.pth'  # noqa: E501

architecture = _base_.model
architecture.update(
    _scope_='mmpretrain',
    data_preprocessor=_base_.data_preprocessor,
    init_cfg=dict(type='Pretrained', checkpoint=dense_checkpoint))
model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='StructuredSparsification',
    architecture=architecture,
    train_threshold=0.1,
    # The architecture brings its own data preprocessor.
    data_preprocessor=None)

# The paper's sparsification schedule: constant lr, no weight decay.
optim_wrapper = dict(optimizer=dict(lr=0.1, weight_decay=0.0))
param_scheduler = []
train_cfg = dict(max_epochs=15, val_interval=5)
custom_hooks = [
    dict(type='mmrazor.PermutationUpdateHook', start_iters=20, epoch_iters=10),
    dict(
        type='mmrazor.SparsityLambdaHook',
        target_ratio=0.5,
        delta=2e-4,
        warmup_epochs=2),
]
