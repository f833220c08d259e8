# Stage 1, target CASIA-SURF CeFA, sources WMCA, CASIA-SURF, CelebA-Spoof
# (0-shot):
# the FAS head on the frozen ImageNet ViT-B/16.
_base_ = ['./_base_/wcs.py']

train_dataloader = dict(
    batch_size=18,
    dataset=dict(datasets=[
        {{_base_.wmca_train}},
        {{_base_.surf_train}},
        {{_base_.celeb_train}},
    ]))
test_dataloader = dict(dataset={{_base_.cefa_test}})
