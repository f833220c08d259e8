# Structured sparsification of the CIFAR ResNet-20 on CIFAR-10, the paper's
# recipe (reference code defaults): from scratch, 100 epochs of batch 64, SGD
# at a constant lr 0.1 without weight decay, the regulariser off for the first
# 10 epochs; permutations re-solved 20 rounds before training and 10 after
# each epoch; 50% of the conv weights targeted. Export, then fine-tune with
# strucspars-p50_cifar-resnet20_1xb64-160e_cifar10-finetune.py.
_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

architecture = _base_.model
architecture.update(
    _scope_='mmpretrain', data_preprocessor=_base_.data_preprocessor)
architecture.backbone = dict(type='CifarResNet', depth=20)
architecture.head.in_channels = 64
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
train_cfg = dict(max_epochs=100, val_interval=1)
auto_scale_lr = dict(base_batch_size=64)

custom_hooks = [
    dict(type='mmrazor.PermutationUpdateHook', start_iters=20, epoch_iters=10),
    dict(
        type='mmrazor.SparsityLambdaHook',
        target_ratio=0.5,
        delta=2e-6,
        warmup_epochs=10),
]
