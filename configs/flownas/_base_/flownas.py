# FlowNAS pieces shared by the supernet configs: the searchable encoder that
# replaces RAFT's feature and context encoders, and Feature Alignment
# Distillation (FAD): mean squared distance between the supernet's encoder
# outputs and the teacher's (features of both images, and context), each
# weighted by its loss_weight (the flow loss weighs model.flow_loss_weight).
# In distributed runs FlowNASDDP runs the sandwich step through DDP (mmengine's
# wrapper would call forward(mode='loss') and train one subnet on the flow
# loss alone); every subnet leaves parameters unused, hence
# find_unused_parameters.
flownas_encoder = dict(
    type='mmrazor.SearchableFlowNASEncoder',
    # The paper's search space (mmext.razor.flownas.FLOWNAS_SEARCH_SPACE).
    search_space=dict(
        widths=[[56, 64], [64, 72], [88, 96], [96, 104, 112],
                [112, 120, 128], [128, 136]],
        depths=[[1, 2], [1, 2, 3], [1, 2, 3], [1, 2, 3], [2, 3, 4], [1, 2]],
        kernel_sizes=[[3, 5], [3, 5], [3, 5], [3, 5], [3, 5], [3, 5]],
        expand_ratios=[[1], [1, 2, 4], [4, 5, 6], [4, 5, 6], [6], [6]]),
    strides=[1, 1, 2, 1, 2, 1],
    stem_channels=64,
    init_cfg=dict(
        type='Kaiming', layer='Conv2d', mode='fan_out',
        nonlinearity='relu'))

flownas_recorders = dict(
    feat=dict(type='mmrazor.ModuleOutputs', source='encoder'),
    cxt=dict(type='mmrazor.ModuleOutputs', source='context'))
flownas_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=flownas_recorders,
    teacher_recorders=flownas_recorders,
    distill_losses=dict(
        loss_fad_img1=dict(
            type='mmrazor.L2Loss',
            normalize=False,
            div_element=True,
            loss_weight=1.0),
        loss_fad_img2=dict(
            type='mmrazor.L2Loss',
            normalize=False,
            div_element=True,
            loss_weight=1.0),
        loss_fad_cxt=dict(
            type='mmrazor.L2Loss',
            normalize=False,
            div_element=True,
            loss_weight=1.0)),
    # The feature encoder runs twice per pair: record 0 is image 1.
    loss_forward_mappings=dict(
        loss_fad_img1=dict(
            s_feature=dict(recorder='feat', from_student=True, record_idx=0),
            t_feature=dict(recorder='feat', from_student=False,
                           record_idx=0)),
        loss_fad_img2=dict(
            s_feature=dict(recorder='feat', from_student=True, record_idx=1),
            t_feature=dict(recorder='feat', from_student=False,
                           record_idx=1)),
        loss_fad_cxt=dict(
            s_feature=dict(recorder='cxt', from_student=True, record_idx=0),
            t_feature=dict(recorder='cxt', from_student=False,
                           record_idx=0))))

model_wrapper_cfg = dict(
    type='mmrazor.FlowNASDDP',
    broadcast_buffers=False,
    find_unused_parameters=True)
