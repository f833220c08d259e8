# mmpretrain's shipped ResNet-18 recipe with only sizes and data changed: a
# 2-class folder of images (CustomDataset layout, `data_root` set by the test)
# at 32 px, 8 images a batch, no validation. Optimizer, schedule, hooks and
# runtime are the shipped ones.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']

model = dict(head=dict(num_classes=2, topk=(1, )))
data_preprocessor = dict(num_classes=2)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=32),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/tiny_folder',
        pipeline=train_pipeline))

val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
train_cfg = dict(max_epochs=1)
