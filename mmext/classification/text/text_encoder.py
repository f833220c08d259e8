"""CLIP's text tower, from mmpretrain's CLIP components, as a standalone module."""
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.models.multimodal.clip.clip import CLIP, LayerNorm
from mmpretrain.models.multimodal.clip.clip_transformer import CLIPTransformer
from mmpretrain.registry import MODELS, TOKENIZER
from torch import nn

from ...checkpoint import CheckpointError, load_local_checkpoint

__all__ = ['CLIPTextEncoder']


@MODELS.register_module()
class CLIPTextEncoder(BaseModule):
    """The text tower of CLIP: token and position embeddings, mmpretrain's
    :class:`~mmpretrain.models.CLIPTransformer` with a causal mask, final
    LayerNorm and the text projection.

    Parameter names are those of mmpretrain's :class:`~mmpretrain.models.CLIP`
    (``token_embedding``, ``positional_embedding``, ``transformer``,
    ``ln_final``, ``text_projection``, ``logit_scale``), so a CLIP checkpoint
    converted to mmpretrain's format (mmpretrain's
    ``tools/model_converters/openai-clip_to_mmpretrain-clip.py``) or a
    ``CLIPZeroShot`` state dict loads as it is; the image keys in the file
    are ignored. ``logit_scale`` is CLIP's learned temperature, which the
    name-initialised head takes as its starting scale.

    Args:
        vocab_size (int): Token vocabulary size. Defaults to 49408 (CLIP BPE).
        context_length (int): Maximum token length. Defaults to 77.
        width (int): Transformer width. Defaults to 512 (ViT-B/16's).
        layers (int): Transformer layers. Defaults to 12.
        heads (int): Attention heads. Defaults to 8.
        proj_dim (int): Joint embedding size. Defaults to 512.
        tokenizer (dict | object): Tokenizer config (mmpretrain TOKENIZER
            registry) or object. Defaults to the offline
            ``dict(type='CLIPBPETokenizer')``.
        pretrained (str, optional): Path of a converted CLIP checkpoint;
            without it the weights are CLIP's random initialisation.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 vocab_size: int = 49408,
                 context_length: int = 77,
                 width: int = 512,
                 layers: int = 12,
                 heads: int = 8,
                 proj_dim: int = 512,
                 tokenizer: Union[dict, object] = dict(type='CLIPBPETokenizer'),
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.context_length = context_length
        # Kept whole: forward hands the blocks the top-left corner it needs.
        self.register_buffer(
            'causal_mask', CLIP.build_attention_mask(self), persistent=False)
        self.transformer = CLIPTransformer(width, layers, heads,
                                           self.causal_mask)
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(
            torch.empty(context_length, width))
        self.ln_final = LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, proj_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))
        CLIP.initialize_parameters(self)
        self.tokenizer = (
            TOKENIZER.build(tokenizer)
            if isinstance(tokenizer, dict) else tokenizer)
        if len(self.tokenizer) > vocab_size:
            raise ValueError(
                f'the tokenizer has {len(self.tokenizer)} tokens but '
                f'vocab_size is {vocab_size}')
        self.pretrained = pretrained
        if pretrained is not None:
            self.load_clip_weights(pretrained)

    def load_clip_weights(self, filename: str) -> None:
        """Load the text-tower weights of a converted CLIP checkpoint.

        Args:
            filename (str): The checkpoint (a state dict, possibly under
                ``'state_dict'``, with mmpretrain CLIP's key names).

        Raises:
            CheckpointError: A text-tower key is missing or has another shape.
        """
        checkpoint = load_local_checkpoint(filename, map_location='cpu')
        state = checkpoint.get('state_dict', checkpoint)
        state = {(k[len('module.'):] if k.startswith('module.') else k): v
                 for k, v in state.items()}
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise CheckpointError(
                f'{filename} is not a CLIP checkpoint in mmpretrain\'s format: '
                f'text-tower keys {missing[:5]} (of {len(missing)}) are '
                'missing. Convert OpenAI weights with mmpretrain\'s '
                'tools/model_converters/openai-clip_to_mmpretrain-clip.py.')
        wrong = [
            f'{k} {tuple(state[k].shape)} vs {tuple(v.shape)}'
            for k, v in own.items() if state[k].shape != v.shape
        ]
        if wrong:
            raise CheckpointError(
                f'{filename} does not fit this CLIPTextEncoder (file vs '
                f'model shapes): {wrong[:5]}')
        self.load_state_dict({k: state[k] for k in own})

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token id rows ``(N, L)`` (from the tokenizer) -> text embeddings
        ``(N, proj_dim)``, unnormalised, as ``CLIP.extract_text_feat``.

        Only the positions up to the last end-of-text token of the batch are
        computed: under the causal mask the padding after it never reaches
        the end-of-text feature, so the result is the same as over the full
        context at a fraction of the cost (prompts are ~10 of 77 tokens).
        """
        eot = tokens.argmax(dim=-1)  # the end token has the largest id
        length = int(eot.max()) + 1
        x = self.token_embedding(tokens[:, :length])
        x = x + self.positional_embedding[:length]
        # mmpretrain's blocks hold their mask: lend them the corner that fits,
        # and give the full one back for callers of self.transformer.
        self._set_mask(self.causal_mask[:length, :length])
        try:
            x = self.transformer(x.permute(1, 0, 2))[0].permute(1, 0, 2)
        finally:
            self._set_mask(self.causal_mask)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), eot] @ self.text_projection

    def _set_mask(self, mask: torch.Tensor) -> None:
        for block in self.transformer.resblocks:
            block.attn_mask = mask

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts -> text embeddings ``(N, proj_dim)``, unnormalised."""
        device = self.token_embedding.weight.device
        return self(self.tokenizer(texts, self.context_length).to(device))

    @torch.no_grad()
    def class_prototypes(self,
                         names: Sequence[str],
                         templates: Sequence[Callable[[str], str]],
                         batch_size: int = 256) -> torch.Tensor:
        """One L2-normalised text embedding per class, CLIP's zero-shot
        classifier: every template filled with the name is embedded and
        L2-normalised, the templates are averaged and the mean normalised
        again (as ``CLIPZeroShot.prepare_text_prototype``).

        Args:
            names (Sequence[str]): The class names.
            templates (Sequence[callable]): ``name -> prompt`` functions
                (see :func:`~mmext.classification.text.resolve_templates`).
            batch_size (int): Prompts per text-tower forward.

        Returns:
            torch.Tensor: ``(num_classes, proj_dim)`` unit rows.
        """
        prompts = [t(name) for name in names for t in templates]
        # Tokenized once for all; only the text tower is batched.
        tokens = self.tokenizer(prompts, self.context_length)
        device = self.token_embedding.weight.device
        chunks: List[torch.Tensor] = []
        for start in range(0, len(prompts), batch_size):
            chunks.append(
                F.normalize(self(tokens[start:start + batch_size].to(device)),
                            dim=-1))
        per_prompt = torch.cat(chunks).view(len(names), len(templates), -1)
        return F.normalize(per_prompt.mean(dim=1), dim=-1)
