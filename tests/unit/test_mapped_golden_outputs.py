"""Every output of the handler for input-mapped layouts, byte for byte: the guard of the mappings' speed-ups.

Records of every shipped layout (Asterisk Master.csv and custom, FreeSWITCH CSV and JSON): the samples, a
benchmark-shaped run of answered and unanswered calls, and a bad value in every mapped field (non-integer
durations, impossible or out-of-range times, epoch 0, URL-encoded and empty values, inbound contexts,
missing JSON paths, a header line, an unknown layout), with and without a serving PLMN configured. The
digests were taken before the mapped fast path (main at c1e5d14) and changed once since, on purpose: a
billsec beyond 64 bits is BAD_TYPE now, as in native records (every other output checked identical). A
change of any output byte, reason code, DLQ body, aggregate or outcome count changes them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.config import load_config
from pipeline.processor import BatchProcessor
from pipeline.stores import (
    in_memory_stores,
)
from tests.support.golden import batch_output_digests
from tests.support.mapped_batches import ALL
from tests.support.pipeline_events import NOW_MS, PIPELINE_ENV

LAYOUTS = Path(__file__).parents[1] / "corpus" / "layouts"
START_S = NOW_MS // 1000 - 3_600


def _clock(i: int) -> list[str]:
    start = START_S + i % 1_800
    return [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s)) for s in (start, start + 5, start + 65)]


def asterisk(i: int, **over: Any) -> bytes:
    start, answer, end = _clock(i)
    cells = {
        "accountcode": "",
        "src": f"201555{i % 1_000:04d}",
        "dst": "2125550102" if i % 3 else "011442079460958",
        "dcontext": ("from-internal", "from-trunk", "from-pstn-x", "")[i % 4],
        "start": start,
        "answer": answer if i % 5 else "",
        "end": end,
        "duration": "65",
        "billsec": "60" if i % 5 else "0",
        "disposition": "ANSWERED" if i % 5 else "NO ANSWER",
        "uniqueid": f"{START_S}.{i}",
    }
    cells.update(over)
    c = cells
    return (
        f'"{c["accountcode"]}","{c["src"]}","{c["dst"]}","{c["dcontext"]}","""A"" <2015550101>",'
        f'"PJSIP/101-1","PJSIP/trunk-2","Dial","PJSIP/2125550102@trunk,60","{c["start"]}","{c["answer"]}",'
        f'"{c["end"]}",{c["duration"]},{c["billsec"]},"{c["disposition"]}","DOCUMENTATION","{c["uniqueid"]}",""'
    ).encode()


def freeswitch(i: int, drop: str = "", **over: Any) -> bytes:
    start = START_S + i % 1_800
    uuid = f"6f1c2a52-1b7e-4a8e-9a51-{i:012d}"
    variables: dict[str, Any] = {
        "uuid": uuid,
        "start_epoch": str(start),
        "answer_epoch": str(start + 5) if i % 5 else "0",
        "end_epoch": str(start + 65),
        "duration": "65",
        "billsec": "60" if i % 5 else "0",
        "hangup_cause": "NORMAL_CLEARING" if i % 5 else "NO_ANSWER",
    }
    profile: dict[str, Any] = {
        "caller_id_number": f"%2B1201555{i % 1_000:04d}" if i % 7 == 0 else f"+1201555{i % 1_000:04d}",
        "destination_number": "2125550102" if i % 3 else "011442079460958",
        "context": "public" if i % 4 == 1 else "default",
        "uuid": uuid,
    }
    for key, value in over.items():
        (variables if key in variables or key.endswith("_epoch") else profile)[key] = value
    for target in (variables, profile):
        target.pop(drop, None)
    doc: dict[str, Any] = {
        "core-uuid": "3e1a9c0e-5a0b-4c2d-9e1f-000000000000",
        "switchname": "fs01" if i % 2 else "fs02",
        "channel_data": {"state": "CS_REPORTING", "direction": "inbound"},
        "variables": variables,
        "callflow": [{"caller_profile": profile}] if i % 6 else {"caller_profile": profile},
    }
    return orjson.dumps(doc)


BAD: list[bytes] = [
    asterisk(1201, billsec="sixty"),
    asterisk(1202, duration="6.5", billsec="0", answer=""),
    asterisk(1203, start="2026-13-18 13:00:00"),
    asterisk(1204, end="yesterday"),
    asterisk(1206, start="1999-01-01 00:00:00"),
    asterisk(1207, start="2099-01-01 00:00:00", answer="2099-01-01 00:00:01", end="2099-01-01 00:01:00"),
    asterisk(1208, end="2026-11-18 00:00:00"),
    asterisk(1209, src="", dst=""),
    asterisk(1211, src="abc", dst="%%%"),
    asterisk(1212, uniqueid=""),
    asterisk(1213, uniqueid="x" * 300),
    asterisk(1214, billsec="-5"),
    asterisk(1216, billsec="99999999999999999999999"),
    asterisk(1217, start=""),
    freeswitch(1201, billsec="sixty"),
    freeswitch(1202, start_epoch="soon"),
    freeswitch(1203, end_epoch="99999999999999"),
    freeswitch(1204, start_epoch="0"),
    freeswitch(1206, start_epoch="1000000000"),
    freeswitch(1207, answer_epoch="1"),
    freeswitch(1208, drop="caller_id_number"),
    freeswitch(1209, drop="uuid"),
    freeswitch(1211, drop="billsec"),
    freeswitch(1212, caller_id_number=17),
    freeswitch(1213, caller_id_number=""),
    freeswitch(1214, destination_number="%41BC"),
    freeswitch(1216, hangup_cause=""),
    freeswitch(1217, start_epoch=123),
    freeswitch(1218, billsec=60),
    freeswitch(1219, end_epoch=None),
    b'{"channel_data": {}, "variables": {}, "callflow": []}',
    b'{"channel_data": 1, "variables": [], "callflow": "x"}',
    b'{"channel_data": {}, "variables": {}}',
    b'"accountcode","src","dst"',
    b",".join(b'"' + c + b'"' for c in b"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r".split(b",")),
]


def payloads() -> list[bytes]:
    samples = [line for path in sorted(LAYOUTS.glob("*.*sv")) for line in path.read_bytes().splitlines()]
    samples += (LAYOUTS / "freeswitch_json_cdr.jsonl").read_bytes().splitlines()
    calls = [make(i) for i in range(300) for make in (asterisk, freeswitch)]
    return [*samples, *calls, *BAD, calls[0]]


def digests(env: dict[str, str]) -> dict[str, str]:
    stores = in_memory_stores()
    config = load_config({**PIPELINE_ENV, "CDRCAP_INPUT_MAPPINGS": ALL, **env})
    processor = BatchProcessor(config, stores)
    return batch_output_digests(processor, stores, payloads())


GOLDEN: dict[str, dict[str, str]] = {
    "": {
        "outcomes": "4f86d5096aa2c139",
        "output": "10b85fd77a42ab99",
        "dlq": "5563847b0f1df3d5",
        "aggregates": "94ade2a744acc2e9",
    },
    "310-260,fs02=234-15": {
        "outcomes": "7e345b77665061fc",
        "output": "901f3d92c885bafc",
        "dlq": "5563847b0f1df3d5",
        "aggregates": "1f58d21b0307f77d",
    },
}


@pytest.mark.parametrize("serving_plmn", ["", "310-260,fs02=234-15"])
def test_every_mapped_output_is_byte_identical_to_the_golden_run(serving_plmn: str) -> None:
    assert digests({"CDRCAP_SERVING_PLMN": serving_plmn}) == GOLDEN[serving_plmn]
