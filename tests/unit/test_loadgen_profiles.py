import pytest

from loadgen.measure import LoadRecorder
from loadgen.pacing import Pacer
from loadgen.producer import CallResult, PutOutcome
from loadgen.profiles import SHAPES, RateProfile


def test_step_profile_rises_in_equal_steps():
    profile = RateProfile("step", 400, 60, steps=4)
    assert [profile.rate_at(t) for t in (0, 14.9, 15, 30, 59.9, 60)] == [100, 100, 200, 300, 400, 0]
    assert [s.rate_rps for s in profile.step_table()] == [100, 200, 300, 400]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_stays_within_zero_and_the_peak_and_ends(shape):
    profile = RateProfile(shape, 1_000, 120, steps=3)
    rates = [profile.rate_at(t / 2) for t in range(240)]
    assert all(0 < r <= 1_000 for r in rates)
    assert profile.rate_at(120) == 0


def test_diurnal_compresses_a_day_with_a_busy_evening_and_quiet_night():
    profile = RateProfile("diurnal", 1_000, 240)
    assert profile.rate_at(18 * 10) > 4 * profile.rate_at(3 * 10)  # 18:00 vs 03:00 of the compressed day


@pytest.mark.parametrize("users", [1, 3, 8])
def test_pacing_sends_the_profile_rate_whatever_the_user_count(users):
    # Given a 300 records/s steady profile for 20 s shared by `users` users
    profile = RateProfile("steady", 300, 20)
    pacers = [Pacer(profile, users, start_epoch_s=1_000.0, max_batch=500) for _ in range(users)]
    # When every user's schedule is played out
    total = 0
    for pacer in pacers:
        while (send := pacer.next_send(now_epoch_s=1_000.0)) is not None:
            total += send.records
    # Then the whole test asked for ~6,000 records
    assert total == pytest.approx(6_000, rel=0.03)


def test_a_late_user_keeps_its_schedule_and_catches_up():
    pacer = Pacer(RateProfile("steady", 40, 10), 1, start_epoch_s=0.0, max_batch=500)
    first = pacer.next_send(0.0)
    # When the user comes back 5 s late, the next send is still due at its intended time (lag is visible)
    second = pacer.next_send(5.0)
    assert first is not None and second is not None
    assert second.intended_epoch_s == pytest.approx(first.records / 40)
    # and it carries everything already due, so the user catches up
    assert second.records == pytest.approx(40 * 5.0, rel=0.05)


def _outcome(offered, accepted, throttled, retried, dropped=0):
    call = CallResult(offered, accepted, throttled, 0, offered * 100, 12.0, 0)
    return PutOutcome(offered=offered, accepted=accepted, throttled=throttled, retried=retried,
                      dropped=dropped, accepted_bytes=accepted * 100, calls=[call])  # fmt: skip


def test_recorder_buckets_by_intended_second_and_merges_across_processes():
    # Given two processes recording the same second
    worker_a, worker_b, master = LoadRecorder(), LoadRecorder(), LoadRecorder()
    worker_a.record(10.2, _outcome(100, 100, 5, 5), started_epoch_s=10.3, finished_epoch_s=10.4,
                    target_rps=200, step=0)  # fmt: skip
    worker_b.record(10.7, _outcome(100, 90, 20, 20, dropped=10), started_epoch_s=10.7, finished_epoch_s=11.0,
                    target_rps=200, step=0)  # fmt: skip
    # When the master merges what they ship
    master.merge(worker_a.drain())
    master.merge(worker_b.drain())
    # Then one row holds the sums and the summary balances
    (row,) = master.rows()
    assert (row["offered"], row["accepted"], row["throttled"], row["retried"], row["dropped"]) == (
        200,
        190,
        25,
        25,
        10,
    )
    assert row["schedule_lag_ms"] == pytest.approx(100, abs=1)
    summary = master.summary()
    assert summary["balanced"] is True
    assert summary["latency_from_intended_ms"]["max"] == pytest.approx(300, abs=1)


def test_recorder_writes_the_contract_columns(tmp_path):
    recorder = LoadRecorder()
    recorder.record(
        5.0, _outcome(10, 10, 0, 0), started_epoch_s=5.0, finished_epoch_s=5.01, target_rps=10, step=1
    )
    seconds, summary = recorder.write(tmp_path / "data")
    header = seconds.read_text().splitlines()[0]
    # The CDR columns reports read come first, unchanged; the Kinesis record counts are appended.
    assert header == (
        "epoch_s,step,target_rps,offered,accepted,throttled,failed,retried,dropped,"
        "put_latency_p50_ms,put_latency_p99_ms,schedule_lag_ms,"
        "kinesis_records_offered,kinesis_records_accepted,kinesis_records_throttled"
    )
    assert summary.exists()


def test_summary_has_per_step_rates():
    recorder = LoadRecorder()
    for second in range(4):
        step = second // 2
        recorder.record(100.0 + second, _outcome(10 * (step + 1), 10 * (step + 1), 0, 0),
                        started_epoch_s=100.0 + second, finished_epoch_s=100.1 + second,
                        target_rps=10 * (step + 1), step=step)  # fmt: skip
    steps = recorder.summary()["steps"]
    assert [(s["step"], s["start_epoch_s"], s["end_epoch_s"], s["offered_rps"]) for s in steps] == [
        (0, 100, 102, 10.0),
        (1, 102, 104, 20.0),
    ]


def test_users_on_spread_phases_do_not_send_in_one_burst():
    # Given 4 users at 400 records/s, on phases 0, 1/4, 2/4, 3/4 of the call interval
    profile = RateProfile("steady", 400, 5)
    pacers = [Pacer(profile, 4, start_epoch_s=0.0, max_batch=500, phase=k / 4) for k in range(4)]
    # When their first calls are due
    firsts = sorted(p.next_send(0.0).intended_epoch_s for p in pacers)  # type: ignore[union-attr]
    # Then they are a quarter interval apart, not all at once
    assert firsts == pytest.approx([0.0, 0.0625, 0.125, 0.1875])
