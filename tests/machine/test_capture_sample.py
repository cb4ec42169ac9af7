"""Every captured trace carries the machine's state, read at most once a second."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from perfdoctor.capture import machine
from tests.inprocess import capturing, capturing_kept, load
from tests.machine.support import app


def test_requests_store_the_machine_they_ran_on(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        client = app().test_client()
        machine.sampler.at = float("-inf")  # a fresh reading, not one an earlier test left
        for _ in range(2):
            client.get("/compute").close()
    stored = [t for t in load(traces) if t.name == "GET /compute"]
    assert len(stored) == 2
    for trace in stored:
        sample = trace.attrs["machine"]
        assert sample["cpus"] == len(os.sched_getaffinity(0))
        assert 0 <= sample["load1"] < 10 * os.cpu_count()
        if machine.cpu_pressure() is not None:
            assert 0 <= sample["cpu_pressure"] <= 100
        else:
            assert "cpu_pressure" not in sample
        if machine.cpu_times() is not None:
            # instrument() took the first /proc/stat reading: the first request has it.
            assert 0 <= sample["steal_pct"] <= 100
        assert set(sample) <= {"load1", "cpus", "cpu_pressure", "steal_pct"}
        assert trace.cpu_ms is not None and trace.cpu_ms > 0


def test_the_machine_is_read_at_most_once_a_second(tmp_path: Path) -> None:
    with capturing_kept(tmp_path / "t.db") as finished:
        client = app().test_client()
        # The next request reads the machine afresh, as after a quiet second.
        machine.sampler.at = float("-inf")
        client.get("/nap").close()
        client.get("/nap").close()
        # A second later (moved back rather than waited for) it is read again.
        machine.sampler.at -= machine.INTERVAL_S
        client.get("/nap").close()
    first, second, third = (t.attrs["machine"] for t in finished)
    assert finished[1].finished is not None and finished[0].finished is not None
    if finished[1].finished - finished[0].finished < machine.INTERVAL_S:
        assert second is first
    assert third is not first
    assert third == machine.sampler.last


@pytest.fixture
def fake_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(machine, "PRESSURE_PATH", str(tmp_path / "pressure"))
    monkeypatch.setattr(machine, "STAT_PATH", str(tmp_path / "stat"))
    return tmp_path


def _stat(folder: Path, steal: int, user: int, idle: int = 9000) -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice (guest time is
    # also in user: not counted twice), then a CPU's own line
    (folder / "stat").write_text(
        f"cpu  {user} 0 0 {idle} 0 0 0 {steal} 40 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
    )


def test_pressure_and_steal_are_read_from_the_kernel_files(fake_proc: Path) -> None:
    (fake_proc / "pressure").write_text(
        "some avg10=63.25 avg60=12.00 avg300=3.10 total=9\nfull avg10=0.00 avg60=0.00\n"
    )
    _stat(fake_proc, steal=100, user=1000)
    sampler = machine.Sampler()
    sampler.prime()
    _stat(fake_proc, steal=250, user=2000)  # +150 steal of +1150 ticks
    sample = sampler.reading(100.0)
    assert sample is not None
    assert sample["cpu_pressure"] == 63.25
    assert sample["steal_pct"] == round(100 * 150 / 1150, 1)
    # Within the second: the same reading, the files unread.
    (fake_proc / "pressure").write_text("some avg10=1.00 avg60=0 avg300=0 total=1\n")
    assert sampler.reading(100.9) is sample
    assert sampler.reading(101.0)["cpu_pressure"] == 1.0


def test_a_kernel_without_the_files_leaves_the_keys_out(fake_proc: Path) -> None:
    sampler = machine.Sampler()
    sampler.prime()
    sample = sampler.reading(0.0)
    assert sample is not None and set(sample) == {"load1", "cpus"}
    # Not looked for again.
    (fake_proc / "pressure").write_text("some avg10=50.00 avg60=0 avg300=0 total=1\n")
    assert "cpu_pressure" not in sampler.reading(5.0)


def test_unreadable_contents_are_left_out_not_raised(fake_proc: Path) -> None:
    (fake_proc / "pressure").write_text("garbage\n")
    (fake_proc / "stat").write_text("cpu  1 2 x\n")
    sampler = machine.Sampler()
    sampler.prime()
    sample = sampler.reading(0.0)
    assert sample is not None and set(sample) == {"load1", "cpus"}


def test_bench_reads_the_pressure_counter_around_a_round(fake_proc: Path) -> None:
    """`perfdoctor bench` reads the stall counter before and after each round: the pressure
    of exactly that round, where avg10 would mix in the ten seconds before it."""
    from perfdoctor.bench import machine as bench_machine

    (fake_proc / "pressure").write_text("some avg10=0.00 avg60=0 avg300=0 total=1000\n")
    assert machine.cpu_stall_us() == 1000
    meter = bench_machine.Meter.start()
    # Half of the round's wall time (whatever it was) spent waiting for a CPU.
    wall_us = 200_000
    meter.wall0 -= wall_us / 1e6
    (fake_proc / "pressure").write_text(
        f"some avg10=0.00 avg60=0 avg300=0 total={1000 + wall_us // 2}\n"
    )
    assert 49.0 <= (meter.pressure_pct() or 0) <= 50.0
    (fake_proc / "pressure").write_text("garbage\n")
    assert machine.cpu_stall_us() is None and meter.pressure_pct() is None
