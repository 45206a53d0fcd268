"""Writes tokenizer.json: token ids from transformers.CLIPTokenizer for ≥ 2,000 strings.

    /tmp/fixtures/bin/python make_tokenizer_fixture.py     # from this folder; versions: requirements.txt

The tokenizer is built from OpenAI's bpe_simple_vocab_16e6.txt.gz (../../../../shared/clip/) the way
OpenAI's tokenizer builds its vocabulary. Strings: every class name in ../../../../shared/classnames/,
the FGAseg prompt of each, and hand-written cases (punctuation, digits, accents, CJK, emoji, long,
special tokens after punctuation).
Output: {"strings": [...], "ids": [[...], ...]} with truncation to 77 tokens.
"""
import json
import os

from openai_bpe import SHARED, openai_tokenizer

tokenizer = openai_tokenizer()

strings = []
for name in sorted(os.listdir(os.path.join(SHARED, "classnames"))):
    if not name.endswith(".txt"):
        continue
    for line in open(os.path.join(SHARED, "classnames", name), encoding="utf-8"):
        line = line.rstrip("\n")
        if line:
            strings.append(line)
            strings.append(f"A photo of a {line.split(', ')[0]} in the scene")
strings += [
    "Hello, World!", "it's a dog's life", "we're here; they've gone, I'm fine, you'll see, he'd go",
    "  multiple   spaces\tand\ttabs\nnewlines  ", "UPPER lower MiXeD", "3.14159 is pi, 42 answers, 1,000,000",
    "café naïve résumé crème brûlée", "Zürich Straße", "Ελληνικά κείμενα", "русский текст", "日本語のテキスト",
    "中文字符测试", "한국어 문장", "emoji 😀🎉👍🏽 mix", "a+b=c; x*y/z", "(parentheses) [brackets] {braces}",
    "email@example.com http://example.org/path?q=1", "hyphen-ated and under_scored", "...!!!???", "'quoted' \"double\"",
    "tab\u00a0nbsp\u2003em-space", "combining e\u0301 vs \u00e9", "ﬁ ligature", "ⅫⅣ roman ①②", "", " ",
    "wall-brick floor-wood sky-other", "<|startoftext|> should be special? <|endoftext|>",
    " ".join(["word"] * 100), "supercalifragilisticexpialidocious " * 10, "x" * 300,
    # special tokens right after punctuation, inside words, repeated, or in other cases
    "cat.<|endoftext|>", "dog,<|startoftext|>cat", "(sky)<|endoftext|>.", "a<|endoftext|>b", "<|endoftext|><|endoftext|>",
    "!!<|startoftext|>!!", "wall-<|endoftext|>-brick", "x<|ENDOFTEXT|>y", "<|endoftext|", "<<|endoftext|>>", "é.<|endoftext|>ü",
]
ids = [tokenizer(s, truncation=True, max_length=77)["input_ids"] for s in strings]
json.dump({"strings": strings, "ids": ids}, open("tokenizer.json", "w"), ensure_ascii=False)
print(f"{len(strings)} strings")
