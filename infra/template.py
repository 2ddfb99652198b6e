"""Read a CloudFormation YAML template as data, short-form tags (!Ref, !Sub, !GetAtt, ...) included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.errors import InfraError

TEMPLATES_DIR = Path(__file__).resolve().parent
PIPELINE_TEMPLATE = TEMPLATES_DIR / "pipeline.yaml"
LOADGEN_TEMPLATE = TEMPLATES_DIR / "loadgen.yaml"


class TemplateError(InfraError):
    """A template could not be read; the message names the file and the line."""


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Name value` into the long form `{"Fn::Name": value}` (`!Ref` into Ref)."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _construct_tag)


def parse_template(text: str, *, source: str = "template") -> dict[str, Any]:
    try:
        document = yaml.load(
            text, Loader=_CloudFormationLoader
        )  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as error:
        raise TemplateError(f"{source} is not valid YAML: {error}") from error
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{source} is not a CloudFormation template (no Resources section).")
    return document


def load_template(path: Path) -> dict[str, Any]:
    return parse_template(path.read_text(), source=str(path))


def parameter_names(template: dict[str, Any]) -> list[str]:
    return sorted(template.get("Parameters", {}))
