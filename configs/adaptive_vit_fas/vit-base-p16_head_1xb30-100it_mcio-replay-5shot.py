# Stage 1, target Idiap Replay-Attack, sources CASIA-MFSD, MSU-MFSD, OULU-NPU,
# CelebA-Spoof + 5 live / 5 spoof Idiap Replay-Attack frames:
# the FAS head on the frozen ImageNet ViT-B/16.
_base_ = ['./_base_/mcio.py']

train_dataloader = dict(
    batch_size=30,
    dataset=dict(datasets=[
        {{_base_.casia_train}},
        {{_base_.msu_train}},
        {{_base_.oulu_train}},
        {{_base_.celeb_train}},
        {{_base_.replay_shots}},
    ]))
test_dataloader = dict(dataset={{_base_.replay_test}})
