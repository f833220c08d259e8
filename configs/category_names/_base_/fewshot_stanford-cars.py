# Name-initialised CLIP ViT-B/16 on Stanford Cars (196 models): k images per
# class from the train split (FewShotDataset), the test split for evaluation;
# CLIP's 224 px bicubic preprocessing.
_base_ = ['./fewshot_in1k.py']

train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            _delete_=True,
            type='StanfordCars',
            data_root='data/stanfordcars',
            split='train',
            pipeline={{_base_.train_pipeline}})))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='StanfordCars',
        data_root='data/stanfordcars',
        split='test',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader

data_preprocessor = dict(num_classes=196)

# The dataset's own class names ("AM General Hummer SUV 2000", set by
# DatasetClassNamesHook) with CLIP's 8 Stanford Cars prompts (a set mmext adds
# to mmpretrain's, so that the zero-shot config can name it too).
model = dict(
    head=dict(
        num_classes=196, class_names=None, templates='openai_stanford_cars'))
