# 16-shot ImageNet-1k with CLIP ViT-L/14 fine-tuned from the class-name head:
# the teacher of kd_name-init_clip-vit-large-p14_clip-vit-base-p16_16shot_in1k.
_base_ = ['./name-init_clip-vit-base-p16_16shot_in1k.py']

clip_checkpoint = 'checkpoints/clip-vit-large-p14_openai.pth'

model = dict(
    backbone=dict(
        arch='large',
        patch_size=14,
        init_cfg=dict(checkpoint=clip_checkpoint)),
    neck=dict(
        in_channels=1024,
        out_channels=768,
        init_cfg=dict(checkpoint=clip_checkpoint)),
    head=dict(
        in_channels=768,
        text_encoder=dict(
            width=768, heads=12, proj_dim=768, pretrained=clip_checkpoint)))
