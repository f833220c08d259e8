# Fine-tuning of the exported grouped-conv ResNet-20 on CIFAR-10, the paper's
# recipe: 160 epochs, lr 0.1 with 10 warm-up epochs and steps at 80 and 120,
# weight decay 1e-4. First run
#   python tools/strucspars/export.py \
#       configs/strucspars/strucspars-p50_cifar-resnet20_1xb64-100e_cifar10-sparsify.py \
#       CHECKPOINT --prune-ratio 0.5 --input-size 32 32
_base_ = ['./strucspars-p50_cifar-resnet20_1xb64-100e_cifar10-sparsify.py']

deploy_dir = 'work_dirs/strucspars-p50_cifar-resnet20_1xb64-100e_cifar10-sparsify/deploy'  # noqa: E501

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='StrucSparsDeploySubModel',
    architecture=_base_.architecture,
    groups=deploy_dir + '/groups.json')
load_from = deploy_dir + '/deploy.pth'

optim_wrapper = dict(optimizer=dict(lr=0.1, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        end=10,
        convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[80, 120], gamma=0.1),
]
train_cfg = dict(max_epochs=160)
custom_hooks = []
