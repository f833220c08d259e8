# Linear probe from random weights, the baseline: CLIP ViT-B/16 frozen, a
# linear classifier on its L2-normalised embedding trained on 16 images per
# class of Stanford Cars. Other k: --cfg-options train_dataloader.dataset.shots=K;
# the same probe started from the class names: model.head.init=names.
_base_ = ['./name-init_clip-vit-base-p16_16shot_stanford-cars.py']

model = dict(
    backbone=dict(frozen_stages=12),  # all 12 blocks, embeddings, norms
    head=dict(init='random', cosine=False))

# The projection has no freezing switch: a zero learning rate keeps it.
optim_wrapper = dict(
    optimizer=dict(lr=1e-4, weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={'neck': dict(lr_mult=0.0)}))
