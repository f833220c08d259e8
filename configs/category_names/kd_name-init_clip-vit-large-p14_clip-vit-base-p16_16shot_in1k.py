# Distillation through mmrazor: a name-initialised CLIP ViT-L/14 fine-tuned on
# 16 images per class of ImageNet-1k (name-init_clip-vit-large-p14_16shot_in1k,
# trained first) teaches a name-initialised CLIP ViT-B/16 on the same images:
# cross-entropy on the labels plus KL divergence to the teacher's logits.
_base_ = ['./name-init_clip-vit-large-p14_16shot_in1k.py']

teacher_ckpt = 'work_dirs/name-init_clip-vit-large-p14_16shot_in1k/iter_4000.pth'
student_clip = 'checkpoints/clip-vit-base-p16_openai.pth'

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='SingleTeacherDistill',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=1000,
        mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
        std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255],
        to_rgb=True),
    architecture=dict(
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
                type='Pretrained', checkpoint=student_clip, prefix='visual')),
        neck=dict(
            type='CLIPProjection',
            in_channels=768,
            out_channels=512,
            init_cfg=dict(
                type='Pretrained',
                checkpoint=student_clip,
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
                pretrained=student_clip),
            class_names='imagenet',
            templates='openai_imagenet',
            topk=(1, 5))),
    # The trained teacher: the model of the config this one inherits. Its
    # weights come from teacher_ckpt, so its CLIP init is never run.
    teacher={{_base_.model}},
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(
            logits=dict(type='ModuleOutputs', source='head')),
        teacher_recorders=dict(
            logits=dict(type='ModuleOutputs', source='head')),
        distill_losses=dict(
            loss_kl=dict(type='KLDivergence', tau=1, loss_weight=3)),
        loss_forward_mappings=dict(
            loss_kl=dict(
                preds_S=dict(from_student=True, recorder='logits'),
                preds_T=dict(from_student=False, recorder='logits')))))

find_unused_parameters = True
val_cfg = dict(_delete_=True, type='mmrazor.SingleTeacherDistillValLoop')
# Only the student is optimised; its head learns faster, without decay on
# the cosine scale (the keys now start with 'architecture.').
optim_wrapper = dict(
    paramwise_cfg=dict(
        _delete_=True,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
            'architecture.head': dict(lr_mult=10.0),
            'architecture.head.log_scale': dict(
                lr_mult=10.0, decay_mult=0.0),
        }))
