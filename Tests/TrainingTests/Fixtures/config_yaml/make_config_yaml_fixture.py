"""How PyYAML reads the config.yaml this package writes (issue #20: YAML round trip).

paper.yaml is ConfigurationLoader.yaml() of Configs/fgaseg_vitb16_coco-stuff.yaml, as the
ConfigurationTests test `writtenYAMLReadsBackWithTheSameTypes` writes it when asked
(FGASEG_WRITE_CONFIG_YAML=<path>). This script loads it with PyYAML (YAML 1.1, the reader
detectron2/fvcore configs use) and records every leaf's Python type and value in
paper.pyyaml.json; the test checks that Yams and our loader read the same types and values.

    pip install pyyaml==6.0.2
    python3 make_config_yaml_fixture.py
"""
import json
import os

import yaml

assert yaml.__version__ == "6.0.2", yaml.__version__

here = os.path.dirname(os.path.abspath(__file__))


def leaves(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, node


def kind(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list[" + ",".join(sorted({kind(v) for v in value})) + "]"
    raise TypeError(f"unexpected {type(value)}")


with open(os.path.join(here, "paper.yaml"), encoding="utf-8") as f:
    document = yaml.safe_load(f)
table = {key: {"type": kind(value), "value": value} for key, value in leaves(document)}
with open(os.path.join(here, "paper.pyyaml.json"), "w", encoding="utf-8") as f:
    json.dump(table, f, indent=1, sort_keys=True, ensure_ascii=False)
    f.write("\n")
print(f"{len(table)} leaves")
