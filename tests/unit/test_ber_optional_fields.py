"""32.298 records with OPTIONAL fields left out are accepted as the spec allows, derived values marked.

The records are built here field by field with pycrate (not through loadgen.ber's canonical-field encoder,
and never through the decoder): one full record per type, then the same record with each OPTIONAL field
the pipeline reads absent in turn, plus CS records holding only the fields 32.298 makes mandatory.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from loadgen.ber import encode_address, encode_plmn, encode_tbcd, encode_timestamp, encode_user_location
from pipeline.config import load_config
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.schema import ReasonCode
from pipeline.stores import (
    InMemoryAggregateStore,
    InMemoryDeadLetterQueue,
    InMemoryOutputStream,
    Stores,
    in_memory_stores,
)
from tests.support.pipeline_events import NOW_MS, PIPELINE_ENV, kinesis_event

START_MS = NOW_MS - 3_600_000
OFFSET_MIN = 330
MSC = "+919800000001"

# The OPTIONAL fields of MOCallRecord / PGWRecord the pipeline reads (docs/ber.md "Every field").
CS_OPTIONAL = (
    "servedIMSI", "servedIMEI", "servedMSISDN", "calledNumber", "location", "seizureTime", "answerTime",
    "releaseTime", "sequenceNumber", "systemType",
)  # fmt: skip
PS_OPTIONAL = (
    "servedIMSI", "servedIMEI", "servedMSISDN", "accessPointNameNI", "userLocationInformation",
    "listOfTrafficVolumes", "recordSequenceNumber", "nodeID", "rATType",
)  # fmt: skip


def _types() -> tuple[Any, Any]:
    from pycrate_asn1dir import CDR

    return CDR.CSChargingDataTypes.CSRecord, CDR.GPRSChargingDataTypes.GPRSRecord


def mo_call(reference: int, **fields: Any) -> dict[str, Any]:
    """A full MOCallRecord (answered, Indian subscriber at home) as pycrate wants it."""
    record: dict[str, Any] = {
        "recordType": 0,
        "servedIMSI": encode_tbcd("404451234567890"),
        "servedIMEI": encode_tbcd("490154203237510"),
        "servedMSISDN": encode_address("+919812345678"),
        "calledNumber": encode_address("+14155550100"),
        "recordingEntity": encode_address(MSC),
        "location": {
            "locationAreaCode": (1001).to_bytes(2, "big"),
            "cellId": (11).to_bytes(2, "big"),
            "mCC-MNC": encode_plmn("404", "45"),
        },
        "seizureTime": encode_timestamp(START_MS, OFFSET_MIN),
        "answerTime": encode_timestamp(START_MS + 5_000, OFFSET_MIN),
        "releaseTime": encode_timestamp(START_MS + 65_000, OFFSET_MIN),
        "callDuration": 60,
        "causeForTerm": 0,
        "callReference": reference.to_bytes(4, "big"),
        "sequenceNumber": 1,
        "systemType": "gERAN",
    }
    record.update(fields)
    return record


def mandatory_only(reference: int, record_type: int = 0) -> dict[str, Any]:
    """MOCallRecord (0) / MTCallRecord (1) with only 32.298's mandatory components (MT adds servedIMSI)."""
    record: dict[str, Any] = {"recordType": record_type}
    if record_type == 1:
        record["servedIMSI"] = encode_tbcd("404451234567890")
    record.update(
        recordingEntity=encode_address(MSC),
        callDuration=0,
        causeForTerm=3,  # unsuccessfulCallAttempt
        callReference=reference.to_bytes(4, "big"),
    )
    return record


def pgw(charging_id: int, **fields: Any) -> dict[str, Any]:
    gateway = ("iPBinaryAddress", ("iPBinV4Address", bytes([10, 0, 0, 1])))
    record: dict[str, Any] = {
        "recordType": 85,
        "servedIMSI": encode_tbcd("404451234567890"),
        "p-GWAddress": gateway,
        "chargingID": charging_id,
        "servingNodeAddress": [gateway],
        "accessPointNameNI": "internet",
        "listOfTrafficVolumes": [
            {
                "dataVolumeGPRSUplink": 1_000,
                "dataVolumeGPRSDownlink": 9_000,
                "changeCondition": "recordClosure",
                "changeTime": encode_timestamp(START_MS + 60_000, OFFSET_MIN),
            }
        ],
        "recordOpeningTime": encode_timestamp(START_MS, OFFSET_MIN),
        "duration": 60,
        "causeForRecClosing": 0,
        "recordSequenceNumber": 2,
        "nodeID": "PGW01",
        "chargingCharacteristics": b"\x08\x00",
        "servedMSISDN": encode_address("+919812345678"),
        "servedIMEI": encode_tbcd("490154203237510"),
        "rATType": 6,
        "userLocationInformation": encode_user_location("404", "45", 7, 0x1234567),
        "servingNodeType": ["mME"],
    }
    record.update(fields)
    return record


def ber(name: str, record: dict[str, Any]) -> bytes:
    cs, gprs = _types()
    asn1 = gprs if name in ("pGWRecord", "sGWRecord") else cs
    asn1.set_val((name, record))
    return bytes(asn1.to_ber())


def without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != name}


def run(payloads: list[bytes], **env: str) -> tuple[BatchOutcome, Stores]:
    stores = in_memory_stores()
    config = load_config({**PIPELINE_ENV, "CDRCAP_HOME_REGION": "IN", **env})
    return BatchProcessor(config, stores).process(kinesis_event(payloads), now_ms=NOW_MS), stores


def output_cdrs(stores: Stores) -> list[dict[str, Any]]:
    assert isinstance(stores.output, InMemoryOutputStream)
    return [orjson.loads(line)["cdr"] for _, line in stores.output.records]


def dlq_reasons(stores: Stores) -> list[str]:
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue)
    return [orjson.loads(m)["reason"] for m in stores.dlq.messages]


@pytest.mark.parametrize("absent", CS_OPTIONAL)
def test_mo_call_without_one_optional_field_is_aggregated(absent: str) -> None:
    # Given an MO call record with one OPTIONAL field left out
    payload = ber("moCallRecord", without(mo_call(1), absent))
    # When processed
    outcome, stores = run([payload])
    # Then it is applied and emitted, not rejected
    assert (outcome.applied, dlq_reasons(stores)) == (1, [])
    [cdr] = output_cdrs(stores)
    assert cdr["source_format"] == "ber"


@pytest.mark.parametrize("absent", PS_OPTIONAL)
def test_pgw_record_without_one_optional_field_is_aggregated(absent: str) -> None:
    # Given a PGW record with one OPTIONAL field left out
    payload = ber("pGWRecord", without(pgw(7), absent))
    # When processed
    outcome, stores = run([payload])
    # Then it is applied and emitted
    assert (outcome.applied, dlq_reasons(stores)) == (1, [])


def test_mo_call_without_mcc_mnc_takes_the_configured_serving_plmn_marked_derived() -> None:
    # Given an MO call whose location has no mCC-MNC, and a switch configured to serve 404-45
    location = {"locationAreaCode": (1001).to_bytes(2, "big"), "cellId": (11).to_bytes(2, "big")}
    payload = ber("moCallRecord", mo_call(2, location=location))
    # When processed
    _, stores = run([payload], CDRCAP_SERVING_PLMN="404-45")
    # Then the cell carries the configured PLMN, roaming is decided from it, and both are marked derived
    [cdr] = output_cdrs(stores)
    assert cdr["cell"] == {"mcc": "404", "mnc": "45", "lac": 1001, "cell_id": 11}
    assert cdr["roaming"] is False
    assert cdr["derived"] == {
        "mcc": "CDRCAP_SERVING_PLMN",
        "mnc": "CDRCAP_SERVING_PLMN",
        "roaming": "IMSI vs CDRCAP_SERVING_PLMN",
    }
    # And the aggregate is the same cell item a record with mCC-MNC counts towards
    assert isinstance(stores.aggregates, InMemoryAggregateStore)
    assert any(pk == "cell#404-45-1001-11" for pk, _ in stores.aggregates.snapshot())


def test_a_per_switch_serving_plmn_wins_over_the_default() -> None:
    # Given the recording entity has its own entry
    location = {"locationAreaCode": (1001).to_bytes(2, "big"), "cellId": (11).to_bytes(2, "big")}
    payload = ber("moCallRecord", mo_call(3, location=location))
    # When processed
    _, stores = run([payload], CDRCAP_SERVING_PLMN=f"310-260,{MSC}=404-46")
    # Then that PLMN is used, and the home subscriber (IMSI 404-45) is roaming there
    [cdr] = output_cdrs(stores)
    assert (cdr["cell"]["mcc"], cdr["cell"]["mnc"], cdr["roaming"]) == ("404", "46", True)


def test_without_mcc_mnc_and_no_configuration_the_cell_is_a_cell_of_the_switch() -> None:
    # Given an MO call without mCC-MNC and no serving PLMN configured
    location = {"locationAreaCode": (1001).to_bytes(2, "big"), "cellId": (11).to_bytes(2, "big")}
    outcome, stores = run([ber("moCallRecord", mo_call(4, location=location))])
    # Then it is aggregated under the switch's cell item, with a null PLMN in the output
    assert outcome.applied == 1
    [cdr] = output_cdrs(stores)
    assert (cdr["cell"]["mcc"], cdr["cell"]["mnc"], "derived" in cdr) == (None, None, False)
    assert isinstance(stores.aggregates, InMemoryAggregateStore)
    assert any(pk == f"cell#@{MSC}/1001-11" for pk, _ in stores.aggregates.snapshot())


@pytest.mark.parametrize("record_type", [0, 1], ids=["moCallRecord", "mtCallRecord"])
def test_call_record_with_only_mandatory_fields_is_emitted_enriched_with_derived_fields(
    record_type: int,
) -> None:
    # Given a CS call record with only its mandatory components (no time, number or location at all)
    name = "moCallRecord" if record_type == 0 else "mtCallRecord"
    payload = ber(name, mandatory_only(5, record_type))
    # When processed
    outcome, stores = run([payload], CDRCAP_SERVING_PLMN="404-45")
    # Then it comes out of the output stream with its times and PLMN derived and marked so
    assert (outcome.applied, dlq_reasons(stores)) == (1, [])
    [cdr] = output_cdrs(stores)
    assert cdr["seizure_utc_ms"] == cdr["release_utc_ms"] == NOW_MS  # arrival, callDuration 0
    assert cdr["answered"] is False and cdr["cause_for_term"] == "unsuccessfulCallAttempt"
    assert cdr["a_number_kind"] == "UNKNOWN" and cdr["a_number"] == ""
    assert set(cdr["derived"]) >= {"seizure_time", "release_time", "utc_offset", "mcc", "mnc"}
    assert cdr["cell"] == {"mcc": "404", "mnc": "45", "lac": None, "cell_id": None}


def test_mandatory_only_records_count_towards_the_switch_items() -> None:
    # Given two mandatory-only MO calls
    payloads = [ber("moCallRecord", mandatory_only(n)) for n in (6, 7)]
    # When processed without a serving PLMN
    outcome, stores = run(payloads)
    # Then both land in the switch's unlocated cell item and its unknown-A-number item
    assert outcome.applied == 2
    assert isinstance(stores.aggregates, InMemoryAggregateStore)
    items = stores.aggregates.snapshot()
    assert [c["records"] for (pk, _), c in items.items() if pk == f"cell#@{MSC}/unlocated"] == [2]
    assert [c["records"] for (pk, _), c in items.items() if pk == f"anum#?{MSC}"] == [2]


def test_unanswered_call_without_answer_time_keeps_the_holding_time_meaning() -> None:
    # Given an unanswered MO call (no answerTime), callDuration 30 = holding time
    record = without(mo_call(8, callDuration=30, causeForTerm=3), "answerTime")
    record["releaseTime"] = encode_timestamp(START_MS + 30_000, OFFSET_MIN)
    _, stores = run([ber("moCallRecord", record)])
    # Then it is an unanswered call with nothing derived
    [cdr] = output_cdrs(stores)
    assert (cdr["answered"], cdr["answer_utc_ms"], cdr["duration_s"], "derived" in cdr) == (
        False,
        None,
        30,
        False,
    )


def test_later_partial_without_seizure_time_starts_at_its_answer_time_marked_derived() -> None:
    # Given the second partial record of a call: no seizureTime, partialRecord cause
    record = without(mo_call(9, causeForTerm=1, sequenceNumber=2), "seizureTime")
    _, stores = run([ber("moCallRecord", record)])
    # Then it is accepted as a non-last partial, its start taken from answerTime and marked
    [cdr] = output_cdrs(stores)
    assert (cdr["partial_sequence"], cdr["last_partial"]) == (2, False)
    assert cdr["derived"] == {"seizure_time": "answerTime"}


def test_a_missing_mandatory_component_is_still_rejected() -> None:
    # Given a record without callReference (mandatory): pycrate's encoder refuses it, so hand-cut bytes
    cs, _ = _types()
    cs.set_val(("moCallRecord", mandatory_only(10)))
    full = bytes(cs.to_ber())
    reference_tlv = bytes([0x9F, 0x20, 4]) + (10).to_bytes(4, "big")  # [32] callReference
    assert reference_tlv in full
    body = full[2:].replace(reference_tlv, b"")
    payload = bytes([full[0], len(body)]) + body
    # When processed
    outcome, stores = run([payload])
    # Then it goes to the DLQ with the decode reason, not silently accepted
    assert outcome.applied == 0
    assert dlq_reasons(stores) == [ReasonCode.BER_DECODE_ERROR.value]


def test_native_json_without_mcc_is_still_missing_field() -> None:
    # Given our own JSON format, whose contract requires mcc: a configured PLMN does not change that
    from tests.support.pipeline_events import as_json, make_cdr

    cdr = make_cdr(1)
    del cdr["mcc"]
    _, stores = run([as_json(cdr)], CDRCAP_SERVING_PLMN="310-260")
    assert dlq_reasons(stores) == [ReasonCode.MISSING_FIELD.value]


@pytest.mark.parametrize("raw", ["310260", "31-260", "MSC01=310-2600", "310-260,310-410"])
def test_a_bad_serving_plmn_is_a_cold_start_error_naming_it(raw: str) -> None:
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="CDRCAP_SERVING_PLMN"):
        load_config({**PIPELINE_ENV, "CDRCAP_SERVING_PLMN": raw})
