"""A transformers CLIPTokenizer built from OpenAI's bpe_simple_vocab_16e6.txt.gz (../../../../shared/clip/)
the way OpenAI's tokenizer builds its vocabulary: 256 byte tokens, the same with </w>, one token per
merge, then <|startoftext|> and <|endoftext|>. Imported by the fixture scripts of this folder."""
import gzip
import os

from transformers import CLIPTokenizer

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../../shared")


def bytes_to_unicode():
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    characters = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            characters.append(256 + n)
            n += 1
    return [chr(c) for c in characters]


def openai_tokenizer(merge_count=49152 - 256 - 2):
    """The tokenizer with the first `merge_count` merges (all of CLIP's by default)."""
    lines = gzip.open(os.path.join(SHARED, "clip/bpe_simple_vocab_16e6.txt.gz")).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:merge_count + 1]]
    alphabet = bytes_to_unicode()
    vocab = alphabet + [a + "</w>" for a in alphabet] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=merges)
