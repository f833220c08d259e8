"""CLIP's byte-level BPE tokenizer, offline.

mmpretrain's CLIP configs build a Hugging Face tokenizer, which downloads its
vocabulary at run time. The vocabulary CLIP was trained with
(``bpe_simple_vocab_16e6.txt.gz``, 49,408 tokens) ships inside the
open_clip_torch wheel, so this tokenizer reads it from there (or from a path)
and never touches the network. The algorithm is OpenAI CLIP's
``SimpleTokenizer`` (MIT licence); the token ids are CLIP's.
"""
import gzip
import html
import importlib.util
import os.path as osp
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Union

import regex
import torch
from mmpretrain.registry import TOKENIZER

__all__ = [
    'CLIPBPETokenizer', 'CLIPVocabularyNotFoundError', 'find_clip_bpe_vocab'
]

VOCAB_FILENAME = 'bpe_simple_vocab_16e6.txt.gz'
SOT_TOKEN = '<|startoftext|>'
EOT_TOKEN = '<|endoftext|>'
# The merges CLIP uses: the first line of the file is a header, and CLIP's
# vocabulary stops at 49,408 = 2 * 256 byte tokens + 48,894 merges + 2 specials.
_NUM_MERGES = 49152 - 256 - 2


class CLIPVocabularyNotFoundError(FileNotFoundError):
    """No CLIP BPE vocabulary file where it was looked for.

    Args:
        message (str): Names every place looked at and how to fix it.
    """


def find_clip_bpe_vocab(path: Optional[str] = None) -> str:
    """Locate CLIP's BPE vocabulary file.

    Args:
        path (str, optional): An explicit ``bpe_simple_vocab_16e6.txt.gz``.
            When given, it is the only place looked at.

    Returns:
        str: The path of the vocabulary file.

    Raises:
        CLIPVocabularyNotFoundError: Nothing found; the message names every
            place looked at.
    """
    if path is not None:
        path = osp.expanduser(path)
        if osp.isfile(path):
            return path
        raise CLIPVocabularyNotFoundError(
            f'CLIP BPE vocabulary not found: {path} is not a file. Pass the '
            f'path of {VOCAB_FILENAME} (it ships in the open_clip_torch '
            'wheel), or leave vocab_path unset to use the installed one.')
    # find_spec locates the package without importing it: importing open_clip
    # would pull in timm and huggingface_hub, which the vocabulary does not need.
    spec = importlib.util.find_spec('open_clip')
    if spec is None or not spec.submodule_search_locations:
        where = 'open_clip_torch is not installed'
    else:
        package_dir = list(spec.submodule_search_locations)[0]
        candidate = osp.join(package_dir, VOCAB_FILENAME)
        if osp.isfile(candidate):
            return candidate
        where = f'{candidate} does not exist'
    raise CLIPVocabularyNotFoundError(
        f'CLIP BPE vocabulary {VOCAB_FILENAME} not found: looked in the '
        f'open_clip package ({where}). Install it with `pip install --no-deps '
        'open_clip_torch` (the wheel ships the file), or pass vocab_path=... '
        'pointing at a copy.')


@lru_cache()
def _bytes_to_unicode() -> Dict[int, str]:
    """CLIP's reversible map from the 256 byte values to printable characters.

    Printable Latin-1 bytes map to themselves and the rest to code points from
    256 up, so that BPE never sees whitespace or control characters.
    """
    printable = (list(range(ord('!'), ord('~') + 1)) +
                 list(range(ord('¡'), ord('¬') + 1)) +
                 list(range(ord('®'), ord('ÿ') + 1)))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes)))




@lru_cache()
def _read_vocab(path: str):
    """The token list and merge ranks of a vocabulary file, read once per
    process (every text tower builds a tokenizer)."""
    with gzip.open(path) as f:
        lines = f.read().decode('utf-8').split('\n')
    merges = [tuple(line.split()) for line in lines[1:_NUM_MERGES + 1]]
    tokens = list(_bytes_to_unicode().values())
    tokens += [t + '</w>' for t in tokens]
    tokens += [''.join(m) for m in merges]
    tokens += [SOT_TOKEN, EOT_TOKEN]
    return tuple(tokens), {m: i for i, m in enumerate(merges)}


@TOKENIZER.register_module()
class CLIPBPETokenizer:
    """CLIP's byte-level BPE tokenizer, reading the vocabulary offline.

    Builds from the ``bpe_simple_vocab_16e6.txt.gz`` in the open_clip_torch
    wheel (or ``vocab_path``). Besides ``encode``/``decode`` and a CLIP-style
    ``__call__`` it offers the Hugging Face methods mmpretrain's
    :class:`~mmpretrain.models.CLIP` calls (``get_vocab``, ``tokenize``,
    ``convert_tokens_to_ids``), so mmpretrain's CLIP configs can use it with
    ``tokenizer=dict(type='CLIPBPETokenizer')``. Any script works: text is
    encoded as UTF-8 bytes, so every name has a tokenization.

    Args:
        vocab_path (str, optional): Path of ``bpe_simple_vocab_16e6.txt.gz``.
            Defaults to the file inside the installed open_clip package.
        context_length (int): Length of the id rows :meth:`__call__` returns.
            Defaults to 77, CLIP's.
    """

    def __init__(self, vocab_path: Optional[str] = None, context_length: int = 77):
        self.vocab_path = find_clip_bpe_vocab(vocab_path)
        # Imported here, not with the module: ftfy comes with open_clip_torch,
        # and `import mmext` must work without either.
        import ftfy
        self._fix_text = ftfy.fix_text
        self.context_length = context_length
        self.byte_encoder = _bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        tokens, self.bpe_ranks = _read_vocab(osp.abspath(self.vocab_path))
        #: token string -> id; mmpretrain's CLIP reads ``tokenizer.vocab``.
        self.vocab = {t: i for i, t in enumerate(tokens)}
        self.id_to_token = tokens
        self.sot_token_id = self.vocab[SOT_TOKEN]
        self.eot_token_id = self.vocab[EOT_TOKEN]
        self._cache = {}
        # CLIP's pre-tokenizer: contractions, runs of letters (any script),
        # single digits, runs of other non-space characters.
        self._pattern = regex.compile(
            r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            regex.IGNORECASE)

    def __len__(self) -> int:
        return len(self.id_to_token)

    @property
    def vocab_size(self) -> int:
        """Number of tokens (49,408 for CLIP's vocabulary)."""
        return len(self.id_to_token)

    def get_vocab(self) -> Dict[str, int]:
        """Token string -> id (Hugging Face API, used by mmpretrain's CLIP)."""
        return self.vocab

    def _bpe(self, word: str) -> List[str]:
        """Merge the byte characters of one pre-token, lowest rank first."""
        if word in self._cache:
            return self._cache[word]
        parts = list(word[:-1]) + [word[-1] + '</w>']
        while len(parts) > 1:
            pairs = zip(parts, parts[1:])
            best = min(pairs, key=lambda p: self.bpe_ranks.get(p, float('inf')))
            if best not in self.bpe_ranks:
                break
            merged, i = [], 0
            while i < len(parts):
                if (i < len(parts) - 1 and (parts[i], parts[i + 1]) == best):
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        self._cache[word] = parts
        return parts

    def _clean(self, text: str) -> str:
        """CLIP's text normalisation: fix mojibake and HTML escapes, collapse
        whitespace, lower-case."""
        text = html.unescape(html.unescape(self._fix_text(text)))
        return ' '.join(text.split()).lower()

    def tokenize(self, text: str) -> List[str]:
        """Text -> BPE token strings (Hugging Face API)."""
        tokens = []
        for piece in self._pattern.findall(self._clean(text)):
            word = ''.join(self.byte_encoder[b] for b in piece.encode('utf-8'))
            tokens.extend(self._bpe(word))
        return tokens

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> List[int]:
        """BPE token strings -> ids (Hugging Face API)."""
        return [self.vocab[t] for t in tokens]

    def encode(self, text: str) -> List[int]:
        """Text -> token ids, without the start/end tokens."""
        return self.convert_tokens_to_ids(self.tokenize(text))

    def decode(self, ids: Sequence[int]) -> str:
        """Token ids -> text.

        The start token is dropped and decoding stops at the end token, so a
        padded row of :meth:`__call__` decodes to its text. The text comes back
        normalised as CLIP sees it (lower-case, single spaces); every
        pre-token boundary (e.g. around punctuation) becomes a space.
        """
        pieces = []
        for i in (int(i) for i in ids):
            if i == self.eot_token_id:
                break
            if i != self.sot_token_id:
                pieces.append(self.id_to_token[i])
        # '</w>' is made of printable byte characters: it survives the byte
        # decoding and is turned into the word boundary afterwards.
        data = bytearray(self.byte_decoder[c] for c in ''.join(pieces))
        text = data.decode('utf-8', errors='replace')
        return text.replace('</w>', ' ').strip()

    def __call__(self,
                 texts: Union[str, Sequence[str]],
                 context_length: Optional[int] = None) -> torch.Tensor:
        """Texts -> a ``(N, context_length)`` LongTensor of CLIP ids.

        Each row is ``<|startoftext|> ids <|endoftext|>`` followed by zeros, the
        ids cut to fit (as mmpretrain's ``CLIP.tokenize`` and OpenAI's do).
        """
        if isinstance(texts, str):
            texts = [texts]
        length = context_length or self.context_length
        out = torch.zeros(len(texts), length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = ([self.sot_token_id] + self.encode(text)[:length - 2] +
                   [self.eot_token_id])
            out[row, :len(ids)] = torch.tensor(ids)
        return out
