"""The CDR schemas in the AWS Glue Schema Registry: created with the local stack, looked up by producers.

Glue enforces the schema's compatibility mode (BACKWARD) when a version is registered; moto's Glue (the
local stack's registry) does not: an incompatible version registers as AVAILABLE there. So
`register_cdr_schema` checks BACKWARD compatibility itself, with Avro's schema resolution rules, before it
registers a version anywhere: a producer refuses to write with a schema the pipeline could not read.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Final

from botocore.exceptions import ClientError

from infra.errors import InfraError
from pipeline.avro_cdr import SCHEMA_FILES, schema_text
from pipeline.constants import CDR_SCHEMA_NAME, SCHEMA_REGISTRY_SUFFIX, resource_name

COMPATIBILITY: Final = "BACKWARD"
AVRO: Final = "AVRO"
AVAILABLE_WAIT_S: Final = 10.0  # Glue answers PENDING for a moment after RegisterSchemaVersion
# Avro's promotions: a writer's type -> the reader types that read it (Avro 1.11 spec, "Schema Resolution").
_PROMOTIONS: Final = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}


class SchemaRegistryError(InfraError):
    """The registry or schema is missing, or a schema version would break the pipeline's reader."""


def registry_name(stack_name: str) -> str:
    return resource_name(stack_name, SCHEMA_REGISTRY_SUFFIX)


def _type_name(schema: Any) -> str:
    if isinstance(schema, dict):
        return str(schema["type"])
    return "union" if isinstance(schema, list) else str(schema)


def incompatibilities(reader: Any, writer: Any, path: str = "") -> list[str]:
    """Why data written with `writer` cannot be read with `reader` (Avro schema resolution); [] if it can.

    BACKWARD compatibility of a new version is `incompatibilities(new, latest) == []`. Covers what CDR
    schemas use (records, unions, enums, arrays, maps, primitives with their promotions)."""
    where = path or "the record"
    if isinstance(writer, list):  # every branch the writer may have written must be readable
        return [problem for branch in writer for problem in incompatibilities(reader, branch, path)]
    if isinstance(reader, list):  # the first reader branch that reads the writer's type
        if any(not incompatibilities(branch, writer, path) for branch in reader):
            return []
        return [f"{where}: {_type_name(writer)} matches no branch of the reader's union"]
    reader_type, writer_type = _type_name(reader), _type_name(writer)
    if writer_type in _PROMOTIONS or reader_type in _PROMOTIONS:
        if reader_type in _PROMOTIONS.get(writer_type, {writer_type}):
            return []
        return [f"{where}: the writer's {writer_type} cannot be read as {reader_type}"]
    if reader_type != writer_type:
        return [f"{where}: the writer's {writer_type} cannot be read as {reader_type}"]
    if reader_type == "record":
        return _record_incompatibilities(reader, writer, path)
    if reader_type == "enum":
        missing = set(writer["symbols"]) - set(reader["symbols"])
        if missing and "default" not in reader:
            return [f"{where}: the reader's enum lacks {sorted(missing)}"]
    if reader_type == "array":
        return incompatibilities(reader["items"], writer["items"], path + "[]")
    if reader_type == "map":
        return incompatibilities(reader["values"], writer["values"], path + "{}")
    return []


def _record_incompatibilities(reader: dict[str, Any], writer: dict[str, Any], path: str) -> list[str]:
    written = {field["name"]: field for field in writer["fields"]}
    problems: list[str] = []
    for field in reader["fields"]:
        names = [field["name"], *field.get("aliases", ())]
        source = next((written[name] for name in names if name in written), None)
        field_path = f"{path}.{field['name']}" if path else field["name"]
        if source is None:
            if "default" not in field:
                problems.append(f"{field_path}: new in the reader and has no default")
            continue
        problems += incompatibilities(field["type"], source["type"], field_path)
    return problems


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def ensure_cdr_schemas(glue: Any, registry: str, schema: str = CDR_SCHEMA_NAME) -> dict[int, uuid.UUID]:
    """Create the registry and the CDR schema (v1, then v2 as its next version) where they are missing, as
    infra/pipeline.yaml does on AWS; returns the schema version id of each CDR schema version."""
    try:
        glue.create_registry(RegistryName=registry, Description="cdrcap CDR schemas")
    except ClientError as error:
        if _code(error) != "AlreadyExistsException":
            raise
    try:
        glue.create_schema(
            RegistryId={"RegistryName": registry},
            SchemaName=schema,
            DataFormat=AVRO,
            Compatibility=COMPATIBILITY,
            SchemaDefinition=schema_text(1),
        )
    except ClientError as error:
        if _code(error) != "AlreadyExistsException":
            raise
    return {version: register_cdr_schema(glue, registry, version, schema) for version in sorted(SCHEMA_FILES)}


def register_cdr_schema(
    glue: Any, registry: str, version: int = 2, schema: str = CDR_SCHEMA_NAME
) -> uuid.UUID:
    """The schema version id of packaged CDR schema `version`: looked up by its definition
    (GetSchemaByDefinition), else registered (RegisterSchemaVersion) after the BACKWARD check against the
    schema's latest version. Raises SchemaRegistryError naming the registry and what to do."""
    return register_schema_version(glue, registry, schema, schema_text(version))


def register_schema_version(glue: Any, registry: str, schema: str, definition: str) -> uuid.UUID:
    schema_id = {"RegistryName": registry, "SchemaName": schema}
    try:
        found = glue.get_schema_by_definition(SchemaId=schema_id, SchemaDefinition=definition)
        if found.get("Status", "AVAILABLE") == "AVAILABLE":
            return uuid.UUID(found["SchemaVersionId"])
    except ClientError as error:
        if _code(error) != "EntityNotFoundException":
            raise SchemaRegistryError(f"GetSchemaByDefinition on {registry}/{schema}: {error}") from error
    try:
        latest = glue.get_schema_version(SchemaId=schema_id, SchemaVersionNumber={"LatestVersion": True})
    except ClientError as error:
        if _code(error) == "EntityNotFoundException":
            raise SchemaRegistryError(
                f"the schema registry has no schema {registry}/{schema}: deploy the pipeline stack "
                "(it creates both) or bring the local stack up (`cdrcap up`)"
            ) from error
        raise SchemaRegistryError(f"GetSchemaVersion on {registry}/{schema}: {error}") from error
    problems = incompatibilities(json.loads(definition), json.loads(latest["SchemaDefinition"]))
    if problems:
        raise SchemaRegistryError(
            f"the schema is not {COMPATIBILITY} compatible with {registry}/{schema} version "
            f"{latest.get('VersionNumber')}: {'; '.join(problems)}. Give new fields defaults and keep the "
            "old fields' types."
        )
    try:
        answer = glue.register_schema_version(SchemaId=schema_id, SchemaDefinition=definition)
    except ClientError as error:
        raise SchemaRegistryError(f"RegisterSchemaVersion on {registry}/{schema}: {error}") from error
    version_id = uuid.UUID(answer["SchemaVersionId"])
    _wait_available(glue, version_id, answer.get("Status", "AVAILABLE"))
    return version_id


def _wait_available(glue: Any, version_id: uuid.UUID, status: str) -> None:
    deadline = time.monotonic() + AVAILABLE_WAIT_S
    while status == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = glue.get_schema_version(SchemaVersionId=str(version_id)).get("Status", "AVAILABLE")
    if status != "AVAILABLE":
        raise SchemaRegistryError(
            f"schema version {version_id} is {status}, not AVAILABLE: the registry refused it "
            "(see its compatibility mode)"
        )
