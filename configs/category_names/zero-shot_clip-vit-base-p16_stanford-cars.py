# Zero-shot CLIP ViT-B/16 on Stanford Cars: mmpretrain's CLIPZeroShot with the
# offline CLIP BPE tokenizer, the 196 model names as prototypes, CLIP's 8 car
# templates and the test split: the names and prompts of the name-initialised
# heads (name-init_*_stanford-cars.py), i.e. what they compute before any
# training.
#   python tools/test.py THIS_CONFIG checkpoints/clip-vit-base-p16_openai.pth
_base_ = [
    'mmpretrain::clip/clip_vit-base-p16_zeroshot-cls_in1k.py',
    './_base_/stanford-cars_names.py'
]

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    tokenizer=dict(_delete_=True, type='CLIPBPETokenizer'),
    text_prototype={{_base_.stanford_cars_names}},
    text_prompt='openai_stanford_cars')
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='StanfordCars',
        data_root='data/stanfordcars',
        split='test',
        pipeline={{_base_.test_pipeline}}))
