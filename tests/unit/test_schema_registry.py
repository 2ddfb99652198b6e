import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.schema_registry import (
    SchemaRegistryError,
    ensure_cdr_schemas,
    incompatibilities,
    register_cdr_schema,
    register_schema_version,
)
from pipeline import gsr
from pipeline.avro_cdr import AvroDecoder, AvroEncoder, UnknownSchemaVersion, schema_definition, schema_text
from pipeline.constants import CDR_SCHEMA_NAME
from pipeline.glue_registry import GlueSchemaRegistry
from tests.support.pipeline_events import make_cdr

REGISTRY = "test-schemas"


@pytest.fixture
def glue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("glue", region_name="us-east-1")


def evolved(**change: Any) -> dict[str, Any]:
    """CDR schema v2 with one field changed (or added, with `add=`)."""
    schema = schema_definition(2)
    added = change.pop("add", None)
    if added:
        schema["fields"].append(added)
    for name, new_type in change.items():
        next(f for f in schema["fields"] if f["name"] == name)["type"] = new_type
    return schema


def test_v2_is_backward_and_forward_compatible_with_v1() -> None:
    assert incompatibilities(schema_definition(2), schema_definition(1)) == []  # v2 reads v1 data
    assert incompatibilities(schema_definition(1), schema_definition(2)) == []  # v1 reads v2 data


@pytest.mark.parametrize(
    ("schema", "complaint"),
    [
        (evolved(add={"name": "charge", "type": "long"}), "charge: new in the reader and has no default"),
        (evolved(duration_s="string"), "duration_s: the writer's long cannot be read as string"),
        (evolved(lac="long"), "lac: the writer's null cannot be read as long"),
        (evolved(lac=["null", "int"]), "lac: long matches no branch"),
        (evolved(cell_id="int"), "cell_id: the writer's long cannot be read as int"),
    ],
)
def test_a_backward_incompatible_change_is_named(schema: dict[str, Any], complaint: str) -> None:
    problems = incompatibilities(schema, schema_definition(2))
    assert any(complaint in problem for problem in problems), problems


def test_promotions_and_defaults_are_compatible() -> None:
    widened = evolved(schema_version="long", add={"name": "charge", "type": "long", "default": 0})
    assert incompatibilities(widened, schema_definition(2)) == []


def test_the_local_registry_gets_both_cdr_versions_once(glue: Any) -> None:
    ids = ensure_cdr_schemas(glue, REGISTRY)
    assert ensure_cdr_schemas(glue, REGISTRY) == ids  # looked up by definition, not registered twice
    schema = glue.get_schema(SchemaId={"RegistryName": REGISTRY, "SchemaName": CDR_SCHEMA_NAME})
    assert schema["Compatibility"] == "BACKWARD" and schema["DataFormat"] == "AVRO"
    assert schema["LatestSchemaVersion"] == 2 and ids[1] != ids[2]
    assert register_cdr_schema(glue, REGISTRY, 2) == ids[2]


def test_moto_registers_an_incompatible_version_so_our_check_refuses_it(glue: Any) -> None:
    ensure_cdr_schemas(glue, REGISTRY)
    breaking = json.dumps(evolved(duration_s="string"))
    schema_id = {"RegistryName": REGISTRY, "SchemaName": CDR_SCHEMA_NAME}
    # moto does not enforce BACKWARD: the registry itself takes the version
    direct = glue.register_schema_version(SchemaId=schema_id, SchemaDefinition=breaking)
    assert direct["Status"] == "AVAILABLE"
    # ... so our registration checks it first and refuses it, naming the field
    other = json.dumps(evolved(cell_id="string"))
    with pytest.raises(SchemaRegistryError, match=r"not BACKWARD compatible.*cell_id"):
        register_schema_version(glue, REGISTRY, CDR_SCHEMA_NAME, other)


def test_a_producer_without_the_schema_is_told_to_deploy(glue: Any) -> None:
    glue.create_registry(RegistryName=REGISTRY)
    with pytest.raises(SchemaRegistryError, match="deploy the pipeline stack"):
        register_cdr_schema(glue, REGISTRY, 2)


def test_the_handler_resolves_a_version_id_through_glue(glue: Any) -> None:
    ids = ensure_cdr_schemas(glue, REGISTRY)
    registry = GlueSchemaRegistry(glue)
    assert json.loads(registry.definition(ids[1])) == json.loads(schema_text(1))
    with pytest.raises(UnknownSchemaVersion):
        registry.definition(uuid.uuid4())
    record = AvroEncoder(ids[1], 1, compression=gsr.COMPRESSION_ZLIB).encode(make_cdr(7))
    fields = AvroDecoder(registry).decode(record)
    assert fields["call_reference"] == "CR00000007" and fields["rat"] is None
