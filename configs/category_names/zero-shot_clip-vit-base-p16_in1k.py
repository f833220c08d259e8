# Zero-shot CLIP ViT-B/16 on ImageNet-1k: mmpretrain's own CLIPZeroShot config
# with the offline CLIP BPE tokenizer instead of a Hugging Face download, and
# the 80 OpenAI templates instead of its 7 ('openai_imagenet_sub'): the names
# and prompts of the name-initialised heads (name-init_*_in1k.py), i.e. what
# they compute before any training (the tests check that the logits are
# equal and the prompts the same).
#   python tools/test.py THIS_CONFIG checkpoints/clip-vit-base-p16_openai.pth
_base_ = ['mmpretrain::clip/clip_vit-base-p16_zeroshot-cls_in1k.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    tokenizer=dict(_delete_=True, type='CLIPBPETokenizer'),
    text_prompt='openai_imagenet')
