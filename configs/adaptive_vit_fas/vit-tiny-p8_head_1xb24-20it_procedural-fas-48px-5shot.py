# Stage 1 of the adaptive ViT: only the FAS head trains, on the frozen ViT.
_base_ = ['./vit-tiny-p8_ft_1xb24-60it_procedural-fas-48px-5shot.py']

model = dict(trainable=['head.*'])
train_cfg = dict(max_iters=20)
