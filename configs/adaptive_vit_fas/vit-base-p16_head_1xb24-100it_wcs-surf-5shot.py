# Stage 1, target CASIA-SURF, sources WMCA, CASIA-SURF CeFA, CelebA-Spoof + 5
# live / 5 spoof CASIA-SURF frames:
# the FAS head on the frozen ImageNet ViT-B/16.
_base_ = ['./_base_/wcs.py']

train_dataloader = dict(
    batch_size=24,
    dataset=dict(datasets=[
        {{_base_.wmca_train}},
        {{_base_.cefa_train}},
        {{_base_.celeb_train}},
        {{_base_.surf_shots}},
    ]))
test_dataloader = dict(dataset={{_base_.surf_test}})
