# Fine-tuning of the exported digits ResNet-20 (50% of the conv weights
# pruned). First run
#   python tools/strucspars/export.py \
#       configs/strucspars/strucspars-p50_cifar-resnet20_1xb32-15e_digits-32px-sparsify.py \
#       CHECKPOINT --prune-ratio 0.5 --input-size 32 32
_base_ = ['./strucspars-p50_cifar-resnet20_1xb32-15e_digits-32px-sparsify.py']

deploy_dir = 'work_dirs/strucspars-p50_cifar-resnet20_1xb32-15e_digits-32px-sparsify/deploy'  # noqa: E501

architecture = _base_.architecture
architecture.pop('init_cfg')  # the weights come from load_from
model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='StrucSparsDeploySubModel',
    architecture=architecture,
    groups=deploy_dir + '/groups.json')
load_from = deploy_dir + '/deploy.pth'

optim_wrapper = dict(optimizer=dict(lr=0.02, weight_decay=1e-4))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=10)]
train_cfg = dict(max_epochs=10, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=10))
custom_hooks = []
