# The 5-shot ViT: every parameter fine-tuned from the 0-shot ViT on the
# source domains plus 5 live + 5 spoof frames of the held-out domain, which
# joins the balanced batches as a fourth domain.
_base_ = ['./vit-tiny-p8_1xb18-200it_procedural-fas-48px.py']

load_from = 'work_dirs/vit-tiny-p8_1xb18-200it_procedural-fas-48px/iter_200.pth'
train_dataloader = dict(
    batch_size=24,
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            {{_base_.train_dataloader.dataset}},
            dict(
                type='FASFrameDataset',
                data_root={{_base_.data_root}},
                domains=[{{_base_.target_domain}}],
                split='train',
                num_shots=5,
                shot_seed=0,
                pipeline={{_base_.train_pipeline}}),
        ]))
train_cfg = dict(max_iters=60)
