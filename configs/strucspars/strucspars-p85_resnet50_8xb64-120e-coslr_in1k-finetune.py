# strucspars-p65_resnet50_8xb64-120e-coslr_in1k-finetune.py
# for the exported model with 85% of the conv weights pruned. First run
#   python tools/strucspars/export.py \
#       configs/strucspars/strucspars-p85_resnet50_8xb64-60e_in1k-sparsify.py \
#       CHECKPOINT --prune-ratio 0.85
_base_ = ['./strucspars-p65_resnet50_8xb64-120e-coslr_in1k-finetune.py']

deploy_dir = 'work_dirs/strucspars-p85_resnet50_8xb64-60e_in1k-sparsify/deploy'

model = dict(groups=deploy_dir + '/groups.json')
load_from = deploy_dir + '/deploy.pth'
