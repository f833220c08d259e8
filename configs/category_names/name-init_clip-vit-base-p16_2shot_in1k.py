# 2-shot ImageNet-1k: CLIP ViT-B/16 fine-tuned from the class-name head.
# Random-initialisation baseline: --cfg-options model.head.init=random
_base_ = ['./_base_/fewshot_in1k.py']

train_dataloader = dict(dataset=dict(shots=2))
train_cfg = dict(max_iters=1000, val_interval=1000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=1000)
]
default_hooks = dict(checkpoint=dict(interval=1000))
