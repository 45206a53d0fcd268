"""Writes hf-folders/: the layouts of Hugging Face CLIP folders that CLIPModel.load and
TokenizerVocabulary.huggingFace must read (HuggingFaceFolderTests.swift), made with transformers
from tiny-clip/ and OpenAI's BPE file.

    /tmp/venv/bin/python make_hf_folder_fixtures.py     # from this folder; versions: requirements.txt

- int64/: model.safetensors with the int64 `*.embeddings.position_ids` buffers that older
  checkpoints carry (tiny-clip's weights otherwise);
- bin/: only pytorch_model.bin (torch.save of the same state dict, position_ids included);
- tokenizer-json/: only tokenizer.json, as a current transformers saves a CLIP tokenizer, for a
  vocabulary cut to the first 2,000 merges; tokenizer-json-ids.json holds transformers' ids for
  every string of tokenizer.json (the tokenizer fixture) with that vocabulary.
"""
import json
import os
import shutil

import torch
from safetensors.torch import load_file, save_file

from openai_bpe import openai_tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "hf-folders")
shutil.rmtree(OUT, ignore_errors=True)

state = load_file(os.path.join(HERE, "tiny-clip/model.safetensors"))
config = json.load(open(os.path.join(HERE, "tiny-clip/config.json")))
state["text_model.embeddings.position_ids"] = torch.arange(config["text_config"]["max_position_embeddings"])[None]
grid = config["vision_config"]["image_size"] // config["vision_config"]["patch_size"]
state["vision_model.embeddings.position_ids"] = torch.arange(grid * grid + 1)[None]
for name in ("int64", "bin"):
    os.makedirs(os.path.join(OUT, name))
    shutil.copy(os.path.join(HERE, "tiny-clip/config.json"), os.path.join(OUT, name))
save_file(state, os.path.join(OUT, "int64/model.safetensors"), metadata={"format": "pt"})
torch.save(state, os.path.join(OUT, "bin/pytorch_model.bin"))

tokenizer = openai_tokenizer(merge_count=2000)
tokenizer.save_pretrained(os.path.join(OUT, "tokenizer-json"))
os.remove(os.path.join(OUT, "tokenizer-json/tokenizer_config.json"))
strings = json.load(open(os.path.join(HERE, "tokenizer.json"), encoding="utf-8"))["strings"]
ids = [tokenizer(s, truncation=True, max_length=77)["input_ids"] for s in strings]
json.dump({"strings": strings, "ids": ids}, open(os.path.join(OUT, "tokenizer-json-ids.json"), "w"), ensure_ascii=False)
print(sorted(os.listdir(OUT)), {d: os.listdir(os.path.join(OUT, d)) for d in ("int64", "bin", "tokenizer-json")})
