"""The handler's view of the AWS Glue Schema Registry: `glue:GetSchemaVersion` by version id, nothing else.

The client is built by the first lookup (a JSON-only function never builds it) and honours
AWS_ENDPOINT_URL_GLUE (the local stack's Glue endpoint) like every boto3 client. pipeline/avro_cdr.py
caches what it returns, so this is called once per schema version per container.
"""

from __future__ import annotations

import uuid
from typing import Any

from pipeline.avro_cdr import UnknownSchemaVersion
from pipeline.errors import ConfigError, TransientStoreError

AVRO_DATA_FORMAT = "AVRO"
AVAILABLE = "AVAILABLE"
# Glue's answers for an id it does not hold: a well-formed but unknown id, or one it cannot parse.
_UNKNOWN_CODES = frozenset({"EntityNotFoundException", "InvalidInputException"})
_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})


class GlueSchemaRegistry:
    def __init__(self, glue: Any = None) -> None:
        self._glue = glue

    def _client(self) -> Any:
        if self._glue is None:
            import boto3
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=5
            )
            self._glue = boto3.client("glue", config=config)
        return self._glue

    def definition(self, schema_version_id: uuid.UUID) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client().get_schema_version(SchemaVersionId=str(schema_version_id))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _UNKNOWN_CODES:
                raise UnknownSchemaVersion(
                    f"the registry has no schema version {schema_version_id}"
                ) from None
            if code in _DENIED_CODES:
                raise ConfigError(
                    "glue:GetSchemaVersion was denied: give the function's role that action on the CDR "
                    "schema's registry and schema (infra/pipeline.yaml does)."
                ) from exc
            raise TransientStoreError(f"GetSchemaVersion {schema_version_id}: {code}") from exc
        except BotoCoreError as exc:
            raise TransientStoreError(f"GetSchemaVersion {schema_version_id}: {exc}") from exc
        data_format = answer.get("DataFormat")
        if data_format != AVRO_DATA_FORMAT:
            raise UnknownSchemaVersion(f"schema version {schema_version_id} is {data_format}, not Avro")
        status = answer.get("Status", AVAILABLE)
        if status != AVAILABLE:
            raise UnknownSchemaVersion(f"schema version {schema_version_id} is {status}, not {AVAILABLE}")
        definition: str = answer["SchemaDefinition"]
        return definition
