# 2-shot Stanford Cars: CLIP ViT-B/16 fine-tuned from the class-name head.
# Random-initialisation baseline: --cfg-options model.head.init=random
_base_ = ['./_base_/fewshot_stanford-cars.py']

train_dataloader = dict(dataset=dict(shots=2))
train_cfg = dict(max_iters=300, val_interval=300)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=300)
]
default_hooks = dict(checkpoint=dict(interval=300))
