"""Input mappings: VoIP switch layouts (Asterisk, FreeSWITCH) decoded by the shipped TOML mappings,
bad mapping files rejected at cold start naming the line, bad records to the DLQ beside good ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.package import build_lambda_zip
from pipeline.config import load_config
from pipeline.decode import Rejected
from pipeline.errors import ConfigError
from pipeline.mapping import compile_mapping
from pipeline.mapping_spec import SHIPPED_DIR, parse_mapping, shipped_mapping_names
from pipeline.schema import ReasonCode
from pipeline.stores import InMemoryOutputStream
from tests.support.mapped_batches import dlq, outputs, run
from tests.support.pipeline_events import PIPELINE_ENV, as_json, make_cdr

LAYOUTS = Path(__file__).parents[1] / "corpus" / "layouts"
SAMPLES = {
    "asterisk_cdr_csv": "asterisk_master.csv",
    "asterisk_cdr_custom": "asterisk_custom.csv",
    "freeswitch_cdr_csv": "freeswitch_cdr.csv",
    "freeswitch_json_cdr": "freeswitch_json_cdr.jsonl",
}


def sample(layout: str) -> list[bytes]:
    return (LAYOUTS / SAMPLES[layout]).read_bytes().splitlines()


@pytest.mark.parametrize("layout", sorted(SAMPLES))
def test_sample_cdrs_of_each_layout_are_aggregated_like_native_ones(layout: str) -> None:
    # Given the three sample calls of a layout (answered out, unanswered out, answered in from a trunk)
    # When processed with every shipped mapping configured (each record picked by its signature)
    outcome, stores = run(sample(layout))
    # Then all three are applied and emitted with the 3GPP meaning of the fields
    assert (outcome.applied, dlq(stores)) == (3, [])
    answered, unanswered, inbound = outputs(stores)
    assert {c["source_format"] for c in (answered, unanswered, inbound)} == {layout}
    assert (answered["record_type"], answered["a_number"], answered["b_number"]) == (
        "MOC",
        "+12015550101",
        "+12125550102",
    )
    assert (answered["answered"], answered["duration_s"]) == (True, 60)  # billsec: chargeable time
    assert answered["seizure_utc_ms"] == 1_795_006_800_000
    assert (unanswered["answered"], unanswered["duration_s"]) == (False, 20)  # duration: holding time
    assert inbound["record_type"] == "MTC"
    assert inbound["cell"] == {"mcc": None, "mnc": None, "lac": None, "cell_id": None}
    # And they count towards the same kinds of items as native CDRs: the switch, the A-number, the country
    assert outcome.dynamo_writes > 0


def test_a_record_of_no_configured_layout_goes_to_the_dlq_naming_the_closest() -> None:
    # Given only the Asterisk Master.csv mapping, and one Master.csv line with a column missing
    good, *_ = sample("asterisk_cdr_csv")
    broken = good.rsplit(b",", 1)[0]
    # When both are processed
    outcome, stores = run([good, broken], "asterisk_cdr_csv")
    # Then the good one is applied and the other rejected with a reason naming the layout it resembled
    assert outcome.applied == 1
    [message] = dlq(stores)
    assert message["reason"] == ReasonCode.UNMAPPED_LAYOUT.value
    assert "17 columns" in message["detail"] and "asterisk_cdr_csv" in message["detail"]


def test_bad_values_in_a_mapped_record_are_rejected_with_their_reason_while_neighbours_pass() -> None:
    # Given three Master.csv lines: good, a non-integer billsec, an impossible start time
    good, *_ = sample("asterisk_cdr_csv")
    bad_int = good.replace(b",65,60,", b",65,sixty,")
    bad_time = good.replace(b"2026-11-18 13:00:00", b"2026-13-18 13:00:00").replace(b'.1"', b'.9"')
    # When processed
    outcome, stores = run([good, bad_int, bad_time], "asterisk_cdr_csv")
    # Then every record ends in exactly one place
    assert outcome.applied == 1
    assert [m["reason"] for m in dlq(stores)] == [
        ReasonCode.BAD_TYPE.value,
        ReasonCode.INVALID_TIMESTAMP.value,
    ]


@pytest.mark.parametrize("layout", ["asterisk_cdr_csv", "freeswitch_json_cdr"])
def test_a_mapped_integer_beyond_64_bits_is_bad_type_as_in_native_records(layout: str) -> None:
    # Given a good record and the same record with a billsec no 64-bit integer holds (native JSON and CSV
    # reject it at decode; passed on, it was counted into the aggregates, and ledger's msgpack delta raised)
    good, *_ = sample(layout)
    huge = b"99999999999999999999999"
    bad = (
        good.replace(b",65,60,", b",65," + huge + b",")
        if layout.endswith("csv")
        else good.replace(b'"billsec":"60"', b'"billsec":"' + huge + b'"')
    )
    assert bad != good
    # When processed
    outcome, stores = run([good, bad], layout)
    # Then the neighbour passes and the bad one is BAD_TYPE naming the field and its value
    assert outcome.applied == 1
    [message] = dlq(stores)
    assert message["reason"] == ReasonCode.BAD_TYPE.value
    assert "duration_s 99999999999999999999999 is beyond 64 bits" in message["detail"]


def test_native_records_decode_exactly_as_without_mappings() -> None:
    # Given native JSON and a native reject (no schema_version) beside a mapped layout
    native = as_json(make_cdr(1))
    payloads = [native, b'{"record_type": "MOC"}']
    # When processed with and without mappings
    _, stores_with = run(payloads)
    _, stores_without = run(payloads, "")
    # Then outputs are byte-identical; without mappings the reject keeps MISSING_FIELD, with them it says
    # no layout matched
    assert isinstance(stores_with.output, InMemoryOutputStream)
    assert isinstance(stores_without.output, InMemoryOutputStream)
    assert stores_with.output.records == stores_without.output.records
    assert [m["reason"] for m in dlq(stores_without)] == [ReasonCode.MISSING_FIELD.value]
    assert [m["reason"] for m in dlq(stores_with)] == [ReasonCode.UNMAPPED_LAYOUT.value]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('calling_number = "src"', 'caller = "src"'), "line 2.*'caller' is not a canonical field"),
        (('format = "%Y-%m-%d %H:%M:%S"', 'format = "%Y-%m-%d"'), "line 2.*does not read back"),
        (('"userfield",', '"userfield", "src",'), "line 2.*duplicate column 'src'"),
        (('zone = "+00:00"', 'zone = "CET"'), "line 2.*is not a UTC offset"),
        (('calling_number = "src"', 'calling_number = "source"'), "column 'source' is not in columns"),
        (('calling_number = "src"', 'calling_number = "src"\ncalling_number = "dst"'), "Cannot overwrite"),
    ],
)
def test_a_bad_mapping_file_is_a_cold_start_error_naming_the_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    # Given the shipped Master.csv mapping with one mistake
    text = (SHIPPED_DIR / "asterisk_cdr_csv.toml").read_text()
    assert change[0] in text
    path = tmp_path / "site.toml"
    path.write_text(text.replace(change[0], change[1], 1))
    # When the function starts with it, Then configuration fails naming the file and the problem
    with pytest.raises(ConfigError, match=f"site.toml.*{message}".replace("line 2", r"line \d+")):
        load_config({**PIPELINE_ENV, "CDRCAP_INPUT_MAPPINGS": str(path)})


def test_the_error_line_is_the_line_of_the_bad_key() -> None:
    text = (SHIPPED_DIR / "asterisk_cdr_csv.toml").read_text().replace('zone = "+00:00"', 'zone = "x"')
    line = 1 + text.splitlines().index('zone = "x"')
    with pytest.raises(ConfigError, match=f"line {line}: zone 'x'"):
        parse_mapping(text, "site.toml")


def test_an_unknown_mapping_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="asterisk_cdr_csv, asterisk_cdr_custom"):
        load_config({**PIPELINE_ENV, "CDRCAP_INPUT_MAPPINGS": "kamailio"})


def test_every_shipped_mapping_has_a_sample_and_is_in_the_lambda_zip(tmp_path: Path) -> None:
    # Given the shipped mappings
    assert set(shipped_mapping_names()) == set(SAMPLES)
    # When the function's zip is built (no dependencies: only the package matters here)
    import zipfile

    path = build_lambda_zip(tmp_path, include_dependencies=False)
    names = set(zipfile.ZipFile(path).namelist())
    # Then every mapping file is inside it
    assert {f"pipeline/mappings/{name}.toml" for name in SAMPLES} <= names


def test_a_csv_files_header_line_goes_to_the_dlq_as_such_while_its_rows_pass() -> None:
    # Given a switch's file shipped line by line with its header first, and a native CSV v2 header
    from pipeline.schema import CSV_COLUMNS

    asterisk_header = ",".join(f'"{c}"' for c in parse_mapping(
        (SHIPPED_DIR / "asterisk_cdr_csv.toml").read_text(), "asterisk_cdr_csv.toml"
    ).columns).encode()  # fmt: skip
    native_header = ",".join(CSV_COLUMNS[2]).encode()
    payloads = [asterisk_header, *sample("asterisk_cdr_csv"), native_header]
    # When processed with the mappings configured
    outcome, stores = run(payloads)
    # Then the rows are applied and each header is a HEADER_LINE reject, not a malformed CDR
    assert outcome.applied == 3
    assert [m["reason"] for m in dlq(stores)] == [ReasonCode.HEADER_LINE.value] * 2


@pytest.mark.parametrize(
    ("time_format", "good", "bad"),
    [("%d/%m/%Y %H.%M.%S", "18/11/2026 13.00.05", "31/02/2026 13.00.05"), ("epoch_ms", "1795006805000", "x")],
)
def test_a_converted_time_seen_again_gives_the_same_value_and_a_bad_one_its_reason(
    time_format: str, good: str, bad: str
) -> None:
    # Given a mapping whose times need converting (a strptime pattern, epoch milliseconds): converted
    # values are kept for the records after
    text = (SHIPPED_DIR / "asterisk_cdr_csv.toml").read_text()
    spec = parse_mapping(text.replace('format = "%Y-%m-%d %H:%M:%S"', f'format = "{time_format}"'), "t.toml")
    mapping = compile_mapping(spec)
    cells = ["", "2015550101", "2125550102", "from-internal", "A", "c", "d", "Dial", "x"]
    record = [*cells, good, good, good, "5", "0", "ANSWERED", "DOCUMENTATION", "1.1", ""]
    # When the same record is decoded twice, then a record with a bad time in another field
    first, again = mapping.decode(record), mapping.decode(record)
    with pytest.raises(Rejected) as rejected:
        mapping.decode([*record[:11], bad, *record[12:]])
    # Then both decodes agree, and the bad time is rejected naming its field, not served from the cache
    assert first == again and first["seizure_time"] == "2026-11-18T13:00:05"
    assert rejected.value.reason == ReasonCode.INVALID_TIMESTAMP
    assert "release_time" in rejected.value.detail
