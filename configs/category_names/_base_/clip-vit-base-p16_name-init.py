# CLIP ViT-B/16: the image tower (ViT + CLIPProjection) as an mmpretrain
# ImageClassifier whose head starts from the text tower's embeddings of the
# class names. Both towers load one CLIP checkpoint converted to mmpretrain's
# key names (README.md, "CLIP weights").
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

clip_checkpoint = 'checkpoints/clip-vit-base-p16_openai.pth'

model = dict(
    # Explicit, so that the model also builds inside mmrazor's algorithms.
    _scope_='mmpretrain',
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='base',
        img_size=224,
        patch_size=16,
        drop_rate=0.,
        layer_cfgs=dict(act_cfg=dict(type='QuickGELU')),
        pre_norm=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=clip_checkpoint, prefix='visual')),
    neck=dict(
        type='CLIPProjection',
        in_channels=768,
        out_channels=512,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=clip_checkpoint,
            prefix='visual_proj')),
    head=dict(
        type='NameInitClsHead',
        num_classes=1000,
        in_channels=512,
        text_encoder=dict(
            type='CLIPTextEncoder',
            width=512,
            layers=12,
            heads=8,
            proj_dim=512,
            pretrained=clip_checkpoint),
        # None: the training dataset's class names (DatasetClassNamesHook).
        class_names=None,
        templates='openai_imagenet',
        init='names',
        cosine=True,
        topk=(1, 5)))

custom_hooks = [dict(type='DatasetClassNamesHook')]

# Fine-tuning the whole model with a small learning rate, the head faster;
# the cosine scale is a temperature: no weight decay on it.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.1),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
            'head': dict(lr_mult=10.0),
            'head.log_scale': dict(lr_mult=10.0, decay_mult=0.0),
        }))

# Iteration-based: the few-shot configs set max_iters and the schedule's end.
train_cfg = dict(by_epoch=False, max_iters=1000, val_interval=1000)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000))
auto_scale_lr = dict(base_batch_size=32)
randomness = dict(seed=0)
