"""Text side of CLIP for classification heads: offline BPE tokenizer, text
tower on mmpretrain's CLIP components, class-name and template readers."""
from .names import read_lines, resolve_class_names, resolve_templates
from .text_encoder import CLIPTextEncoder
from .tokenizer import (CLIPBPETokenizer, CLIPVocabularyNotFoundError,
                        find_clip_bpe_vocab)

__all__ = [
    'CLIPBPETokenizer', 'CLIPTextEncoder', 'CLIPVocabularyNotFoundError',
    'find_clip_bpe_vocab', 'read_lines', 'resolve_class_names',
    'resolve_templates'
]
