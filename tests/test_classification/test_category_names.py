"""Category-name initialisation (issue 8): offline CLIP tokenizer, text tower,
name-initialised head, k-shot wrapper, configs (zero-shot, distillation).

Everything runs on tiny randomly initialised CLIPs: no weights are downloaded.
"""
import copy
import functools
import glob
import os
import os.path as osp
import sys
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mmext  # noqa: F401  (compatibility layer first)
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import BaseLoop
from mmext.checkpoint import CheckpointError, load_model_weights
from mmext.classification.datasets import FewShotDataset
from mmext.classification.heads import DatasetClassNamesHook
from mmext.classification.text import (CLIPBPETokenizer,
                                       CLIPVocabularyNotFoundError,
                                       find_clip_bpe_vocab, read_lines,
                                       resolve_class_names, resolve_templates)
from mmpretrain.models.multimodal.clip.clip import CLIP, PROMPT_MAP
from mmpretrain.registry import MODELS

from ..conftest import REPO, run_tool

CONFIGS = osp.join(REPO, 'configs', 'category_names')
WIDTH, PROJ, CONTEXT = 32, 24, 32


@pytest.fixture(autouse=True)
def _mmpretrain_scope():
    """Build in mmpretrain's scope, as its configs do (conftest restores it)."""
    init_default_scope('mmpretrain')


@pytest.fixture(scope='module')
def tokenizer():
    return CLIPBPETokenizer()


def tiny_vit(embed=32):
    return dict(
        type='VisionTransformer',
        arch=dict(
            embed_dims=embed,
            num_layers=1,
            num_heads=2,
            feedforward_channels=2 * embed),
        img_size=32,
        patch_size=16,
        drop_rate=0.,
        layer_cfgs=dict(act_cfg=dict(type='QuickGELU')),
        pre_norm=True)


def tiny_text_encoder(pretrained=None):
    return dict(
        type='CLIPTextEncoder',
        context_length=CONTEXT,
        width=WIDTH,
        layers=2,
        heads=2,
        proj_dim=PROJ,
        pretrained=pretrained)


@pytest.fixture(scope='module')
def tiny_clip(tmp_path_factory):
    """mmpretrain's CLIPZeroShot, tiny and random, and its state dict file."""
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    names = ['red circle', 'blue square', '猫', 'γάτα']
    clip = MODELS.build(
        dict(
            type='CLIPZeroShot',
            vision_backbone=tiny_vit(),
            projection=dict(
                type='CLIPProjection', in_channels=32, out_channels=PROJ),
            text_backbone=dict(
                type='CLIPTransformer',
                width=WIDTH,
                layers=2,
                heads=2,
                attn_mask=True),
            tokenizer=dict(type='CLIPBPETokenizer'),
            vocab_size=49408,
            transformer_width=WIDTH,
            proj_dim=PROJ,
            context_length=CONTEXT,
            text_prototype=names,
            text_prompt='openai_imagenet_sub')).eval()
    # A logit scale of its own, so that the head's must really come from it.
    clip.logit_scale.data.fill_(np.log(37.0))
    path = str(tmp_path_factory.mktemp('clip') / 'tiny_clip.pth')
    torch.save(clip.state_dict(), path)
    return SimpleNamespace(model=clip, path=path, names=names)


# --------------------------------------------------------------------------
# Tokenizer and names
# --------------------------------------------------------------------------


def test_tokenizer_gives_clip_ids_offline(tokenizer):
    # OpenAI CLIP's ids (checked against open_clip's SimpleTokenizer).
    assert tokenizer.vocab_size == 49408
    assert tokenizer.encode('A photo of a cat.') == [320, 1125, 539, 320, 2368, 269]
    row = tokenizer('a photo of a dog', context_length=10)[0].tolist()
    assert row == [49406, 320, 1125, 539, 320, 1929, 49407, 0, 0, 0]
    # Cut to fit, the end token kept.
    assert tokenizer('a photo of a dog', context_length=4)[0].tolist() == [
        49406, 320, 1125, 49407
    ]
    assert tokenizer.vocab_path.endswith('bpe_simple_vocab_16e6.txt.gz')


def test_non_latin_names_file_round_trips(tmp_path, tokenizer):
    names = ['猫', 'ゴールデン・レトリバー', 'Γάτα', 'σκύλος', 'Ёжик', 'cat']
    path = tmp_path / 'names.txt'
    # A byte-order mark and a trailing blank line, as editors leave them.
    path.write_bytes(('\n'.join(names) + '\n\n').encode('utf-8-sig'))
    assert read_lines(str(path)) == names
    for name in names:
        ids = tokenizer.encode(name)
        assert ids and max(ids) < tokenizer.sot_token_id
        expected = name.lower().replace('・', ' ・ ')  # pre-token boundary
        assert tokenizer.decode(ids) == expected
        assert tokenizer.decode(tokenizer(name)[0]) == expected

    blank = tmp_path / 'blank.txt'
    blank.write_text('猫\n\nγάτα\n', encoding='utf-8')
    with pytest.raises(ValueError, match='line'):
        read_lines(str(blank))


def test_templates_from_sets_files_and_lists(tmp_path):
    assert len(resolve_templates('openai_imagenet')) == 80
    path = tmp_path / 'templates.txt'
    path.write_text('un {} sur fond blanc\n{} の写真\n', encoding='utf-8')
    assert [t('chat') for t in resolve_templates(str(path))] == [
        'un chat sur fond blanc', 'chat の写真'
    ]
    with pytest.raises(ValueError, match='{}'):
        resolve_templates(['a photo'])


def test_missing_vocabulary_names_where_it_looked(tmp_path):
    missing = tmp_path / 'nowhere' / 'bpe.txt.gz'
    with pytest.raises(CLIPVocabularyNotFoundError, match=str(missing)):
        CLIPBPETokenizer(vocab_path=str(missing))
    with mock.patch('importlib.util.find_spec', return_value=None):
        with pytest.raises(CLIPVocabularyNotFoundError,
                           match='open_clip_torch is not installed'):
            find_clip_bpe_vocab()
    empty_package = SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    with mock.patch('importlib.util.find_spec', return_value=empty_package):
        with pytest.raises(CLIPVocabularyNotFoundError) as error:
            find_clip_bpe_vocab()
    assert str(tmp_path / 'bpe_simple_vocab_16e6.txt.gz') in str(error.value)


# --------------------------------------------------------------------------
# Text tower and head
# --------------------------------------------------------------------------


def test_text_encoder_loads_clip_text_weights_only(tiny_clip, tmp_path):
    encoder = MODELS.build(tiny_text_encoder(tiny_clip.path))
    state = tiny_clip.model.state_dict()
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, state[key]), key
    partial = {k: v for k, v in state.items() if k != 'text_projection'}
    torch.save(partial, tmp_path / 'partial.pth')
    with pytest.raises(CheckpointError, match='text_projection'):
        MODELS.build(tiny_text_encoder(str(tmp_path / 'partial.pth')))


def _as_openai(state):
    """mmpretrain CLIP keys -> OpenAI's (their clip/model.py naming)."""
    block = (('.ln1.', '.ln_1.'), ('.ln2.', '.ln_2.'),
             ('.ffn.layers.0.0.', '.mlp.c_fc.'), ('.ffn.layers.1.', '.mlp.c_proj.'),
             ('.attn.qkv.weight', '.attn.in_proj_weight'),
             ('.attn.qkv.bias', '.attn.in_proj_bias'),
             ('.attn.proj.', '.attn.out_proj.'))
    out = {}
    for key, value in state.items():
        if key.startswith('visual.layers.'):
            key = key.replace('visual.layers.', 'visual.transformer.resblocks.')
            for new, old in block:
                key = key.replace(new, old)
        elif key == 'visual.pos_embed':
            key, value = 'visual.positional_embedding', value[0]
        elif key == 'visual.cls_token':
            key, value = 'visual.class_embedding', value[0, 0]
        elif key == 'visual_proj.proj':
            key = 'visual.proj'
        else:
            key = (key.replace('visual.patch_embed.projection', 'visual.conv1')
                   .replace('visual.pre_norm', 'visual.ln_pre')
                   .replace('visual.ln1', 'visual.ln_post'))
        out[key] = value.half() if value.is_floating_point() else value
    # OpenAI's archives also hold three sizes that are not weights.
    out.update(input_resolution=torch.tensor(32),
               context_length=torch.tensor(CONTEXT),
               vocab_size=torch.tensor(49408))
    return out


def test_openai_weights_convert_to_clip_zero_shot(tiny_clip, tmp_path):
    import importlib.util
    tool_path = osp.join(REPO, 'tools', 'category_names',
                         'convert_openai_clip.py')
    spec = importlib.util.spec_from_file_location('convert_openai_clip',
                                                  tool_path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    state = tiny_clip.model.state_dict()
    torch.save(_as_openai(state), tmp_path / 'openai.pt')
    converted = tool.convert_clip(tool.load_openai(str(tmp_path / 'openai.pt')))
    assert set(converted) == set(state)
    for key, value in converted.items():
        assert torch.equal(value.float(), state[key].half().float()), key

    # The command line writes float32 weights that fit the model exactly.
    result = run_tool(sys.executable, tool_path, tmp_path / 'openai.pt',
                      tmp_path / 'converted.pth')
    assert result.returncode == 0, result.stderr[-2000:]
    model = copy.deepcopy(tiny_clip.model)
    load_model_weights(model, str(tmp_path / 'converted.pth'))
    for key, value in model.state_dict().items():
        assert value.dtype == state[key].dtype
        assert torch.equal(value, state[key].half().float()), key


def test_head_is_the_normalised_text_prototypes(tiny_clip):
    templates = ['a photo of a {}.', 'a {} on a table']
    head = MODELS.build(
        dict(
            type='NameInitClsHead',
            num_classes=len(tiny_clip.names),
            in_channels=PROJ,
            text_encoder=tiny_text_encoder(tiny_clip.path),
            class_names=tiny_clip.names,
            templates=templates))
    head.init_weights()

    # Independently: every prompt through mmpretrain's own text path over the
    # full context, normalised, averaged per class, normalised again.
    clip = tiny_clip.model
    with torch.no_grad():
        rows = []
        for name in tiny_clip.names:
            feats = CLIP.extract_text_feat(
                clip, clip.tokenize([t.format(name) for t in templates]))
            mean = (feats / feats.norm(dim=-1, keepdim=True)).mean(0)
            rows.append(mean / mean.norm())
    expected = torch.stack(rows)
    torch.testing.assert_close(head.fc.weight, expected, atol=1e-5, rtol=0)
    assert head.fc.weight.norm(dim=1).sub(1).abs().max() < 1e-5
    assert head.log_scale.exp().item() == pytest.approx(37.0, rel=1e-5)

    # Linear variant: scale * prototypes and a zero bias.
    linear = MODELS.build(
        dict(
            type='NameInitClsHead',
            num_classes=len(tiny_clip.names),
            in_channels=PROJ,
            text_encoder=tiny_text_encoder(tiny_clip.path),
            class_names=tiny_clip.names,
            templates=templates,
            cosine=False))
    linear.init_weights()
    torch.testing.assert_close(
        linear.fc.weight, 37.0 * expected, atol=1e-3, rtol=1e-5)
    assert not linear.fc.bias.any()

    # The baseline: same head, random weights, CLIP's scale.
    random = MODELS.build(
        dict(
            type='NameInitClsHead',
            num_classes=len(tiny_clip.names),
            in_channels=PROJ,
            text_encoder=tiny_text_encoder(tiny_clip.path),
            init='random'))
    random.init_weights()
    assert (random.fc.weight - expected).abs().max() > 0.1
    assert random.fc.weight.std().item() == pytest.approx(0.01, rel=0.5)
    assert random.log_scale.exp().item() == pytest.approx(37.0, rel=1e-5)


def test_head_logits_equal_clip_zero_shot_before_training(tiny_clip):
    path, names = tiny_clip.path, tiny_clip.names
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                tiny_vit(),
                init_cfg=dict(
                    type='Pretrained', checkpoint=path, prefix='visual')),
            neck=dict(
                type='CLIPProjection',
                in_channels=32,
                out_channels=PROJ,
                init_cfg=dict(
                    type='Pretrained', checkpoint=path,
                    prefix='visual_proj')),
            head=dict(
                type='NameInitClsHead',
                num_classes=len(names),
                in_channels=PROJ,
                text_encoder=tiny_text_encoder(path),
                class_names=names,
                templates='openai_imagenet_sub')))
    model.init_weights()
    model.eval()

    clip = tiny_clip.model
    images = torch.randn(6, 3, 32, 32)
    with torch.no_grad():
        logits = model(images, mode='tensor')
        ours = model(images, mode='predict')
        clip.text_prototype_embeds = None
        theirs = clip.predict(images)
        feats = F.normalize(clip.extract_image_feat(images), dim=-1)
        clip_logits = clip.logit_scale.exp() * feats @ clip.text_prototype_embeds
    torch.testing.assert_close(logits, clip_logits, atol=1e-4, rtol=1e-5)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.pred_score, b.pred_score, atol=1e-5,
                                   rtol=1e-5)
        assert a.pred_label.item() == b.pred_label.item()


def test_head_needs_names_or_the_dataset_hook(tiny_clip):
    head = MODELS.build(
        dict(
            type='NameInitClsHead',
            num_classes=3,
            in_channels=PROJ,
            text_encoder=tiny_text_encoder(tiny_clip.path)))
    with pytest.raises(RuntimeError, match='DatasetClassNamesHook'):
        head.init_weights()
    with pytest.raises(ValueError, match='2 class names'):
        head.set_class_names(['a', 'b'])

    # The hook hands the training dataset's classes to every such head...
    model = torch.nn.Sequential(head)
    runner = SimpleNamespace(
        _train_loop=mock.MagicMock(spec=BaseLoop),
        model=model,
        train_dataloader=SimpleNamespace(
            dataset=SimpleNamespace(metainfo=dict(classes=('x', 'y', 'z')))),
        logger=mock.MagicMock())
    DatasetClassNamesHook().before_run(runner)
    assert head.class_names == ['x', 'y', 'z']
    # ... and leaves a model alone when the runner is not training.
    head.class_names = None
    runner._train_loop = dict(type='IterBasedTrainLoop')
    DatasetClassNamesHook().before_run(runner)
    assert head.class_names is None


# --------------------------------------------------------------------------
# k-shot data
# --------------------------------------------------------------------------


def _counts(dataset):
    return np.bincount(dataset.get_gt_labels(), minlength=10)


def test_few_shot_keeps_exactly_k_per_class_and_is_seeded():
    digits = dict(type='SklearnDigits', split='train')
    four = FewShotDataset(digits, shots=4, seed=0)
    assert len(four) == 40 and (_counts(four) == 4).all()
    assert four.metainfo['classes'] == tuple(str(d) for d in range(10))
    for i in range(len(four)):  # the served item is the chosen one
        assert four[i]['gt_label'] == four.get_cat_ids(i)[0]

    again = FewShotDataset(digits, shots=4, seed=0)
    other = FewShotDataset(digits, shots=4, seed=1)
    assert again.indices == four.indices
    assert other.indices != four.indices
    assert (_counts(other) == 4).all()
    # One seed: the 1-shot images are among the 4-shot ones.
    one = FewShotDataset(digits, shots=1, seed=0)
    assert set(one.indices) <= set(four.indices)

    with pytest.raises(ValueError, match='fewer than 1000 images'):
        FewShotDataset(digits, shots=1000)


def test_few_shot_wraps_a_folder_dataset_from_config(tmp_path):
    import cv2
    from mmpretrain.registry import DATASETS
    for c in ('ant', 'bee', 'cat'):
        os.makedirs(tmp_path / c)
        for i in range(3):
            cv2.imwrite(str(tmp_path / c / f'{i}.png'),
                        np.full((8, 8, 3), i * 40, np.uint8))
    dataset = DATASETS.build(
        dict(
            type='FewShotDataset',
            shots=2,
            seed=3,
            dataset=dict(
                type='CustomDataset',
                data_root=str(tmp_path),
                pipeline=[dict(type='LoadImageFromFile')])))
    assert len(dataset) == 6
    assert list(np.bincount(dataset.get_gt_labels())) == [2, 2, 2]
    assert dataset.metainfo['classes'] == ('ant', 'bee', 'cat')
    assert dataset[0]['img'].shape == (8, 8, 3)


# --------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _config(path):
    """Each shipped config parsed once for the module (parsing dominates the
    time of the config tests)."""
    return Config.fromfile(path)


@pytest.mark.parametrize(
    'path', sorted(glob.glob(osp.join(CONFIGS, '*.py'))),
    ids=lambda p: osp.basename(p))
def test_configs_parse(path):
    cfg = _config(path)
    name = osp.basename(path)
    if name.startswith('zero-shot'):
        assert cfg.model.type == 'CLIPZeroShot'
        assert cfg.model.tokenizer == dict(type='CLIPBPETokenizer')
        return
    if name.startswith('kd_'):
        assert cfg.model.type == 'SingleTeacherDistill'
        heads = [cfg.model.architecture.head, cfg.model.teacher.head]
    else:
        heads = [cfg.model.head]
        shots = int(name.split('shot_')[0].split('_')[-1])
        assert cfg.train_dataloader.dataset.type == 'FewShotDataset'
        assert cfg.train_dataloader.dataset.shots == shots
        assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_iters
    assert all(h.type == 'NameInitClsHead' for h in heads)
    expected = 'random' if name.startswith('linear-probe') else 'names'
    assert heads[0].get('init', 'names') == expected


def _prompts(names, templates):
    return [[template(name) for template in templates] for name in names]


def _head_prompts(cfg, head):
    """The prompts a NameInitClsHead of a config embeds: its names (the
    training dataset's classes when it has none, as DatasetClassNamesHook
    gives them) through its templates."""
    names = head.class_names
    if names is None:
        from mmpretrain.registry import DATASETS
        dataset = cfg.train_dataloader.dataset
        dataset = dataset.get('dataset', dataset)  # inside FewShotDataset
        names = DATASETS.get(dataset.type).METAINFO['classes']
    return _prompts(
        resolve_class_names(names), resolve_templates(head.templates))


@pytest.mark.parametrize('dataset', ['in1k', 'stanford-cars'])
def test_zero_shot_configs_use_the_prompts_of_the_name_init_heads(dataset):
    """Zero-shot CLIP is what every name-initialised head of the same dataset
    computes before training: same names, same templates, same order."""
    zero_shot = _config(
        osp.join(CONFIGS, f'zero-shot_clip-vit-base-p16_{dataset}.py'))
    expected = _prompts(
        resolve_class_names(zero_shot.model.text_prototype),
        PROMPT_MAP[zero_shot.model.text_prompt])
    paths = [
        p for p in sorted(glob.glob(osp.join(CONFIGS, f'*_{dataset}.py')))
        if not osp.basename(p).startswith('zero-shot')
    ]
    assert len(paths) >= 6
    for path in paths:
        cfg = _config(path)
        if cfg.model.type == 'SingleTeacherDistill':
            heads = [cfg.model.architecture.head, cfg.model.teacher.head]
        else:
            heads = [cfg.model.head]
        for head in heads:
            prompts = _head_prompts(cfg, head)
            assert len(prompts) == len(expected), osp.basename(path)
            assert prompts == expected, osp.basename(path)
    # ImageNet: CLIP's short names through the 80 OpenAI templates; Stanford
    # Cars: the dataset's model names through CLIP's 8 car templates.
    assert len(expected[0]) == {'in1k': 80, 'stanford-cars': 8}[dataset]
    assert len(expected) == {'in1k': 1000, 'stanford-cars': 196}[dataset]


class _InitialHeadWeight(Hook):
    """Keeps the head's weights as training starts (after initialisation)."""

    def before_train(self, runner):
        self.weight = runner.model.head.fc.weight.detach().clone()


def test_few_shot_config_trains_with_dataset_names(tiny_clip, tmp_path):
    """The shipped 1-shot recipe, shrunk: FewShotDataset feeds the runner and
    DatasetClassNamesHook names the head before its weights are set."""
    from mmengine.runner import Runner

    cfg = Config.fromfile(
        osp.join(CONFIGS, 'name-init_clip-vit-base-p16_1shot_stanford-cars.py'))
    pipeline = [dict(type='Resize', scale=32), dict(type='PackInputs')]
    cfg.merge_from_dict({
        'work_dir': str(tmp_path),
        'model.backbone': dict(tiny_vit(), _delete_=True),
        'model.neck': dict(in_channels=32, out_channels=PROJ, init_cfg=None),
        'model.head': dict(num_classes=10, in_channels=PROJ,
                           text_encoder=tiny_text_encoder(tiny_clip.path)),
        'data_preprocessor.num_classes': 10,
        'train_dataloader': dict(batch_size=5, num_workers=0,
                                 persistent_workers=False),
        'train_dataloader.dataset.dataset': dict(
            _delete_=True, type='SklearnDigits', split='train',
            pipeline=pipeline),
        'val_dataloader': dict(batch_size=20, num_workers=0,
                               persistent_workers=False),
        'val_dataloader.dataset': dict(
            _delete_=True, type='SklearnDigits', split='test', indices=20,
            pipeline=pipeline),
        'train_cfg': dict(max_iters=2, val_interval=2),
        'param_scheduler': [dict(type='ConstantLR',
                                 factor=1.0, by_epoch=False)],
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
    })
    cfg.test_dataloader = cfg.val_dataloader
    runner = Runner.from_cfg(cfg)
    head = runner.model.head
    assert head.class_names is None
    # What the head is initialised to: the prototypes of the digits' names.
    encoder = MODELS.build(tiny_text_encoder(tiny_clip.path))
    expected = encoder.class_prototypes([str(d) for d in range(10)],
                                        resolve_templates(cfg.model.head.templates))
    record = _InitialHeadWeight()
    runner.register_hook(record)
    runner.train()
    assert head.class_names == [str(d) for d in range(10)]
    assert len(runner.train_dataloader.dataset) == 10  # one digit each
    torch.testing.assert_close(record.weight, expected, atol=1e-5, rtol=0)
    assert not torch.equal(head.fc.weight, record.weight)  # then trained


def test_distillation_config_builds_and_runs_one_step():
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.structures import DataSample
    from mmrazor.registry import MODELS as RAZOR_MODELS

    cfg = Config.fromfile(
        osp.join(CONFIGS, 'kd_name-init_clip-vit-large-p14_'
                 'clip-vit-base-p16_16shot_in1k.py'))
    names = ['ant', 'bee', 'cat']
    small = dict(
        num_classes=3,
        class_names=names,
        templates='vanilla',
        text_encoder=tiny_text_encoder())
    # The shipped recipe with tiny towers, random CLIP weights, 3 classes.
    cfg.merge_from_dict({
        'model.teacher_ckpt': None,
        'model.data_preprocessor.num_classes': 3,
        'model.architecture.backbone': dict(tiny_vit(32), _delete_=True),
        'model.architecture.neck': dict(in_channels=32, out_channels=PROJ,
                                        init_cfg=None),
        'model.architecture.head': dict(small, in_channels=PROJ),
        'model.teacher.backbone': dict(tiny_vit(48), _delete_=True),
        'model.teacher.neck': dict(in_channels=48, out_channels=PROJ,
                                   init_cfg=None),
        'model.teacher.head': dict(small, in_channels=PROJ),
    })
    model = RAZOR_MODELS.build(cfg.model)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    teacher_before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    student_before = model.student.head.fc.weight.clone()

    torch.manual_seed(0)
    data = dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                for _ in range(4)],
        data_samples=[DataSample().set_gt_label(i) for i in (0, 1, 2, 1)])
    log_vars = model.train_step(data, optim_wrapper)
    assert {'student.loss', 'distill.loss_kl'} <= set(log_vars)
    assert all(torch.isfinite(torch.as_tensor(v)).all()
               for v in log_vars.values())
    # The distiller saw both heads' logits.
    for recorders in (model.distiller.student_recorders,
                      model.distiller.teacher_recorders):
        logits = recorders.get_recorder('logits').get_record_data()
        assert logits.shape == (4, 3)
    assert not torch.equal(model.student.head.fc.weight, student_before)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
