# Fine-tuning of the exported grouped-conv ResNet-101 (65% of the conv
# weights pruned) on ImageNet with the paper's recipe (see
# strucspars-p65_resnet50_8xb64-120e-coslr_in1k-finetune.py). First run
#   python tools/strucspars/export.py \
#       configs/strucspars/strucspars-p65_resnet101_8xb64-60e_in1k-sparsify.py \
#       CHECKPOINT --prune-ratio 0.65
_base_ = ['./strucspars-p65_resnet101_8xb64-60e_in1k-sparsify.py']

deploy_dir = 'work_dirs/strucspars-p65_resnet101_8xb64-60e_in1k-sparsify/deploy'  # noqa: E501

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
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=115,
        by_epoch=True,
        begin=5,
        end=120,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=120)
custom_hooks = []
