# Stage 1, target OULU-NPU, sources CASIA-MFSD, MSU-MFSD, Idiap Replay-Attack,
# CelebA-Spoof (0-shot):
# the FAS head on the frozen ImageNet ViT-B/16.
_base_ = ['./_base_/mcio.py']

train_dataloader = dict(
    batch_size=24,
    dataset=dict(datasets=[
        {{_base_.casia_train}},
        {{_base_.msu_train}},
        {{_base_.replay_train}},
        {{_base_.celeb_train}},
    ]))
test_dataloader = dict(dataset={{_base_.oulu_test}})
