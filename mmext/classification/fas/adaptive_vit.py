"""Adaptive ViT: mmpretrain's VisionTransformer with ensemble adapters after
attention and after the MLP of every block, and FWT after every block.

The upstream layers are not forked: the new modules hang off each
``TransformerEncoderLayer`` as extra children (``attn_adapter``,
``ffn_adapter``, ``fwt``) and act through forward hooks on the attention's
output projection (``attn.proj_drop``) and on the MLP (``ffn.layers``), i.e.
on both branches before layer scale, drop path and the residual add (the
public code: adapter, drop path, add), and on the whole block. Every
upstream parameter keeps its name, so ImageNet ViT checkpoints load with
only the new parameters missing.
"""
import functools
from typing import Optional

import torch
from mmcv.cnn.bricks.transformer import FFN
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.registry import MODELS

from .adapters import EnsembleAdapter, FeatureWiseTransform

__all__ = ['AdaptiveVisionTransformer']


def _replace_output(new_module, hooked_module, inputs, output):
    return new_module(output)


@MODELS.register_module()
class AdaptiveVisionTransformer(VisionTransformer):
    """VisionTransformer with ensemble adapters and FWT (any ``arch``).

    Args:
        adapter_cfg (dict): Keyword arguments of :class:`EnsembleAdapter`
            (``num_adapters``, ``hidden_dims``, ``init_std``, ``reduction``).
        fwt_cfg (dict, optional): Keyword arguments of
            :class:`FeatureWiseTransform` (``gamma_init``, ``beta_init``);
            ``None`` leaves FWT out.
        *args, **kwargs: Those of mmpretrain's ``VisionTransformer``.
    """

    def __init__(self,
                 *args,
                 adapter_cfg: dict = dict(num_adapters=2, hidden_dims=64),
                 fwt_cfg: Optional[dict] = dict(gamma_init=0.3, beta_init=0.5),
                 **kwargs):
        super().__init__(*args, **kwargs)
        for index, layer in enumerate(self.layers):
            if not isinstance(layer.ffn, FFN):
                raise ValueError(
                    f'AdaptiveVisionTransformer needs the standard MLP '
                    f"(ffn_type='origin'); layer {index} has "
                    f'{type(layer.ffn).__name__}')
            layer.attn_adapter = EnsembleAdapter(self.embed_dims,
                                                 **adapter_cfg)
            layer.ffn_adapter = EnsembleAdapter(self.embed_dims, **adapter_cfg)
            layer.attn.proj_drop.register_forward_hook(
                functools.partial(_replace_output, layer.attn_adapter))
            layer.ffn.layers.register_forward_hook(
                functools.partial(_replace_output, layer.ffn_adapter))
            if fwt_cfg is not None:
                layer.fwt = FeatureWiseTransform(self.embed_dims, **fwt_cfg)
                layer.register_forward_hook(
                    functools.partial(_replace_output, layer.fwt))

    def cosine_loss(self) -> torch.Tensor:
        """Mean over all 2 x num_layers ensembles of their cosine losses
        from the last training-mode forward (a mean, so that one weight fits
        any depth; the public code never adds them up)."""
        terms = [
            adapter.cosine_loss for layer in self.layers
            for adapter in (layer.attn_adapter, layer.ffn_adapter)
        ]
        if any(term is None for term in terms):
            raise RuntimeError(
                'cosine_loss() needs a training-mode forward first')
        return torch.stack(terms).mean()
