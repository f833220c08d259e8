# Stage 1, target WMCA, sources CASIA-SURF CeFA, CASIA-SURF, CelebA-Spoof + 5
# live / 5 spoof WMCA frames:
# the FAS head on the frozen ImageNet ViT-B/16.
_base_ = ['./_base_/wcs.py']

train_dataloader = dict(
    batch_size=24,
    dataset=dict(datasets=[
        {{_base_.cefa_train}},
        {{_base_.surf_train}},
        {{_base_.celeb_train}},
        {{_base_.wmca_shots}},
    ]))
test_dataloader = dict(dataset={{_base_.wmca_test}})
