# Fine-tuning of the exported grouped-conv ResNet-50 (65% of the conv weights
# pruned) on ImageNet, the paper's recipe: 120 epochs, lr 0.1 with 5 warm-up
# epochs then cosine, weight decay 1e-4. First run
#   python tools/strucspars/export.py \
#       configs/strucspars/strucspars-p65_resnet50_8xb64-60e_in1k-sparsify.py \
#       CHECKPOINT --prune-ratio 0.65
_base_ = ['./strucspars-p65_resnet50_8xb64-60e_in1k-sparsify.py']

deploy_dir = 'work_dirs/strucspars-p65_resnet50_8xb64-60e_in1k-sparsify/deploy'

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
