# Zero-shot CLIP ViT-B/16 on ImageNet-1k: mmpretrain's own CLIPZeroShot config
# with the offline CLIP BPE tokenizer instead of a Hugging Face download. This
# is what a name-initialised head computes before any training (the tests
# check that the logits are equal).
#   python tools/test.py THIS_CONFIG checkpoints/clip-vit-base-p16_openai.pth
_base_ = ['mmpretrain::clip/clip_vit-base-p16_zeroshot-cls_in1k.py']

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(tokenizer=dict(_delete_=True, type='CLIPBPETokenizer'))
