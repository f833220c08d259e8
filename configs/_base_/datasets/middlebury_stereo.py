# The real Middlebury 2014 "Motorcycle" stereo pair shipped with scikit-image,
# read as flow (u = -disparity, v = 0; undefined disparity invalid). Test
# only: one pair, downscaled 4x (125x185, |u| from 2 to 15 px) so that CPU
# models evaluate it in seconds.
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MiddleburyStereoFlow',
        downscale=4,
        pipeline=[dict(type='PackFlowInputs')]))
test_evaluator = [dict(type='EndPointError'), dict(type='FlowOutliers')]
