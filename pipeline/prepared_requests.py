"""A prepared request path for the handler's bulky JSON-protocol calls: the aggregate and fraud stores'
DynamoDB TransactWriteItems and BatchGetItem, the output stream's Kinesis PutRecords. orjson encodes their
bodies (and decodes BatchGetItem's and PutRecords' success answers); botocore still resolves the endpoint,
signs, sends, retries, meters and raises errors.

Why: botocore's JSON serializer walks the operation's shapes value by value; for a TransactWriteItems of 100
items it took ~14-20 ms (the whole body ~0.5 ms with orjson), a 500-record PutRecords ~3 ms (~0.6 ms), and
parsing a 100-item BatchGetItem answer ~8 ms (orjson: ~0.3 ms). The endpoint ruleset also walked every
TransactItems entry with JMESPath (its ResourceArnList parameter). Profiled on bench_fraud_emulator: the
aggregate store's transactions were 63 % of the handler's CPU with fraud off (docs/pipeline.md, "The
prepared request path").

How (public botocore events only, per client and operation):
- `before-parameter-build` (last: after botocore's own handlers, which fill ClientRequestToken): the request's
  parameters encoded as the JSON protocol does (binary values as base64 text, everything else as is) into
  the request's context, and the bulky member replaced by a stub that keeps the table or stream names
  (endpoint rules read them), so botocore serializes a few bytes;
- `before-call`: the stub's body replaced by the encoded one (a retry re-sends that same body, token
  included);
- `before-parse` (success answers of BatchGetItem and PutRecords only): the body decoded by orjson and
  handed to botocore as the customised part of the parsed answer, botocore parsing an empty object. Binary
  values stay base64 text there: every reader of a B value accepts both (`as_bytes`: the fraud state's
  dynamo_items.decode, the ledger's claims reader in aws_stores); PutRecords' answer holds none.
Errors (status >= 300) are parsed by botocore as ever, so cancellation reasons and error codes are unchanged.
A parameter orjson cannot encode leaves that request to botocore.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

import orjson

ENCODED_BODY = "cdrcap_prepared_body"  # request context key
PREPARED = {"dynamodb": ("TransactWriteItems", "BatchGetItem"), "kinesis": ("PutRecords",)}
DECODED = {"dynamodb": "BatchGetItem", "kinesis": "PutRecords"}  # success answers orjson decodes
_INSTALLED = "_cdrcap_prepared"  # on a prepared client's meta: a second install would encode the stub


def as_bytes(value: bytes | str) -> bytes:
    """A B value as read: bytes from botocore's parser, base64 text from the prepared one."""
    return base64.b64decode(value) if isinstance(value, str) else value


def _as_base64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is left to botocore")


def _stub(operation: str, params: dict[str, Any]) -> None:
    """The bulky member replaced by a valid one that names the same tables or stream and serializes in
    microseconds."""
    if operation == "TransactWriteItems":
        tables = {next(iter(action.values())).get("TableName") for action in params["TransactItems"]}
        params["TransactItems"] = [{"Put": {"TableName": table, "Item": {}}} for table in sorted(tables)]
    elif operation == "BatchGetItem":
        params["RequestItems"] = {table: {"Keys": [{}]} for table in params["RequestItems"]}
    else:  # PutRecords: the stream's name or ARN stays for the endpoint rules
        params["Records"] = []


def _encoder(operations: tuple[str, ...], validating: bool) -> Callable[..., None]:
    """The before-parameter-build handler; a client that validates parameters gets the real ones validated
    here, as botocore would have (it only sees the stub)."""

    validate: Callable[[Any, Any], None] | None = None
    if validating:
        from botocore.validate import validate_parameters  # only then: botocore's import costs a cold start

        validate = validate_parameters

    def encode(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.name not in operations:
            return
        if validate is not None:
            validate(params, model.input_shape)
        try:
            body = orjson.dumps(params, default=_as_base64)
        except (TypeError, orjson.JSONEncodeError):
            return  # something only botocore knows how to serialize: its own path
        context[ENCODED_BODY] = body
        _stub(model.name, params)

    return encode


def _send_encoded(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    body = context.get(ENCODED_BODY)
    if body is not None:
        params["body"] = body


def decode_success(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    if response_dict.get("status_code") != 200 or not response_dict.get("body"):
        return
    customized_response_dict.update(orjson.loads(response_dict["body"]))
    response_dict["body"] = b"{}"


def prepare(client: Any) -> bool:
    """Install the prepared path on a boto3 DynamoDB or Kinesis client speaking JSON; False (nothing done)
    for anything else (a fake, another service or protocol)."""
    meta: Any = getattr(client, "meta", None)
    service = meta.service_model.service_id.hyphenize() if meta is not None else ""
    if service not in PREPARED:
        return False
    if getattr(meta.service_model, "resolved_protocol", meta.service_model.protocol) != "json":
        return False
    if getattr(meta, _INSTALLED, False):  # the same client behind two stores: installed once
        return True
    events = meta.events
    # botocore keeps the choice in the serializer it built (meta.config does not say it): a validating one
    # is wrapped in ParamValidationDecorator. The handler's clients do not validate (aws_stores.build_client).
    validating = type(getattr(client, "_serializer", None)).__name__ == "ParamValidationDecorator"
    encode = _encoder(PREPARED[service], validating)
    # after every other handler of the event, botocore's own (the idempotency token) included: those of the
    # generic event name run after the specific ones, and register_last puts this one at their end
    events.register_last("before-parameter-build", encode)
    for operation in PREPARED[service]:
        events.register_last(f"before-call.{service}.{operation}", _send_encoded)
    decode_answers(client, (DECODED[service],))
    setattr(meta, _INSTALLED, True)
    return True


def decode_answers(client: Any, operations: tuple[str, ...]) -> None:
    """orjson decodes these operations' success answers on this boto3 client (binary values stay base64
    text, timestamps stay epoch numbers); error answers stay botocore's. The local ESM reads GetRecords this
    way: the Lambda event carries each record's data as that same base64 text."""
    meta: Any = client.meta
    service = meta.service_model.service_id.hyphenize()
    for operation in operations:
        meta.events.register(f"before-parse.{service}.{operation}", decode_success)


class PreparedClient:
    """Stands for a DynamoDB or Kinesis client with the prepared path installed on first use, so a lazily
    built client (aws_stores.LazyClient) is still built with the first batch, not at cold start. Anything
    `prepare` declines (a fake, another service or protocol) is used as it is."""

    __slots__ = ("_client", "_lock", "_ready")

    def __init__(self, client: Any) -> None:
        self._client = client
        self._ready = False
        self._lock = threading.Lock()

    @property
    def unprepared(self) -> Any:
        return self._client

    def __getattr__(self, name: str) -> Any:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    prepare(self._client)
                    self._ready = True
        return getattr(self._client, name)
