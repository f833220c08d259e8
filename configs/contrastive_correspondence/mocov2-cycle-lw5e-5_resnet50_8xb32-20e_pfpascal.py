# The PF-WILLOW model of the paper: trained on PF-PASCAL pairs with a ten times
# smaller cycle weight (5e-5); evaluate it with hyperpixel_resnet50_pfwillow.py.
_base_ = ['./mocov2-cycle_resnet50_8xb32-20e_pfpascal.py']

model = dict(cycle_weight=5e-5)
