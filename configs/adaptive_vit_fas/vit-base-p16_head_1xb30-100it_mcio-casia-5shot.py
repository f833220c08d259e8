# Stage 1, target CASIA-MFSD, sources MSU-MFSD, Idiap Replay-Attack, OULU-NPU,
# CelebA-Spoof + 5 live / 5 spoof CASIA-MFSD frames:
# the FAS head on the frozen ImageNet ViT-B/16.
_base_ = ['./_base_/mcio.py']

train_dataloader = dict(
    batch_size=30,
    dataset=dict(datasets=[
        {{_base_.msu_train}},
        {{_base_.replay_train}},
        {{_base_.oulu_train}},
        {{_base_.celeb_train}},
        {{_base_.casia_shots}},
    ]))
test_dataloader = dict(dataset={{_base_.casia_test}})
