# Stage 1, target Idiap Replay-Attack, sources CASIA-MFSD, MSU-MFSD, OULU-NPU,
# CelebA-Spoof (0-shot):
# the FAS head on the frozen ImageNet ViT-B/16.
_base_ = ['./_base_/mcio.py']

train_dataloader = dict(
    batch_size=24,
    dataset=dict(datasets=[
        {{_base_.casia_train}},
        {{_base_.msu_train}},
        {{_base_.oulu_train}},
        {{_base_.celeb_train}},
    ]))
test_dataloader = dict(dataset={{_base_.replay_test}})
