# As the pixel config, but the encoder maximises the adversary's perceptual
# distance (features of the fixed ResNet-18 of `perceptual`, weights from
# its local checkpoint) instead of its pixel error.
_base_ = ['./privacy-adv-pixel_resnet18-cut2_1xb64-20e_celeba-128px.py']

model = dict(privacy_loss={{_base_.perceptual}})
