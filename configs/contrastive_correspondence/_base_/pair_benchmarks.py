# Evaluation on semantic-correspondence pairs, PF-PASCAL by default: image
# pairs resized to 240 x 240 (source keypoints follow; PCK is measured in the
# original target image with each benchmark's threshold). Local paths only.
pair_test_pipeline = [
    dict(type='LoadImagePair'),
    dict(type='ResizePair', scale=(240, 240)),
    dict(type='PairViews', pipeline=[]),
    dict(type='PackInputs',
         meta_keys=('src_kps', 'trg_kps', 'trg_bbox', 'trg_ori_shape',
                    'trg_scale_factor', 'category')),
]
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='PFPascalPairs', data_root='data/PF-PASCAL',
                 split='val', pipeline=pair_test_pipeline))
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
# PF-PASCAL: alpha times the larger side of the target image.
val_evaluator = dict(type='PCKMetric', alphas=(0.05, 0.1, 0.15),
                     threshold='image')
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
