"""The emulated link: a collective of S bytes completes no sooner than L + S/B (ring volume), and on an
idle link not much later; transfers in flight share the bandwidth."""

from __future__ import annotations

import pytest

from sharegrad.errors import UserError
from sharegrad.sync.comm import CommCounters, ring_bytes
from sharegrad.train.launch import run_local
from sharegrad.wan.link import EmulatedLink, LinkSpec, wrap
from sharegrad.wan.probes import time_collectives

LATENCY_MS, BANDWIDTH_MBPS, NUMEL = 150.0, 100.0, 250_000  # 1 MB of float32: 80 ms at 100 Mb/s


@pytest.fixture(scope="module")
def timings():
    return run_local(time_collectives, 2, (LATENCY_MS, BANDWIDTH_MBPS, NUMEL, 3), timeout_s=150)


def test_no_collective_completes_before_latency_plus_ring_transfer(timings):
    for rank_rows in timings:
        for row in rank_rows:
            assert row["elapsed_s"] >= row["expected_s"], row
            assert row["counted_bytes"] == row["wire_bytes"]
    kinds = {row["kind"] for row in timings[0]}
    assert kinds == {"all_reduce", "all_gather", "count_external"}


def test_on_an_idle_link_a_collective_completes_within_20_percent_of_the_emulated_time(timings):
    # The best of three repeats on a fresh link: scheduler noise of a shared machine only ever adds time.
    for rank_rows in timings:
        for kind in ("all_reduce", "all_gather", "count_external"):
            rows = [r for r in rank_rows if r["kind"] == kind]
            best = min(r["elapsed_s"] for r in rows)
            assert best <= 1.2 * rows[0]["expected_s"], (kind, best, rows[0]["expected_s"])


class FakeComm:
    """A world of 2 without a process group: only what the link's bookkeeping reads."""

    def __init__(self):
        self.world_size, self.rank, self.counters = 2, 0, CommCounters()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_transfers_in_flight_queue_on_the_link_and_latency_overlaps():
    clock = FakeClock()
    link = EmulatedLink(FakeComm(), LinkSpec.from_units(300, 15), clock=clock, sleep=clock.sleep)
    send = 8 * 1_000_000 / 15e6
    first = link.schedule(0.0, 1_000_000)
    second = link.schedule(0.0, 1_000_000)  # handed over at once: waits for the first to leave the sender
    assert first == pytest.approx(send + 0.3)
    assert second == pytest.approx(2 * send + 0.3)
    later = link.schedule(10.0, 1_000_000)  # the link is idle again
    assert later == pytest.approx(10.0 + send + 0.3)
    link.sleep_until(later)
    assert clock.now == pytest.approx(later)
    assert link.link_counters.sleep_seconds == pytest.approx(later)
    assert link.inner.counters.wait_seconds == pytest.approx(later)  # the trainer's wait includes the link


def test_a_single_rank_crosses_no_link():
    comm = FakeComm()
    comm.world_size = 1
    link = EmulatedLink(comm, LinkSpec.from_units(6000, 15))
    assert link.schedule(5.0, ring_bytes(10**6, 1)) == 5.0


def test_wrap_without_a_link_returns_the_communicator_and_refuses_nonsense():
    comm = FakeComm()
    assert wrap(comm, None, None) is comm
    assert isinstance(wrap(comm, 300, None), EmulatedLink)
    with pytest.raises(UserError, match="latency"):
        LinkSpec.from_units(-1, 15)
    with pytest.raises(UserError, match="bandwidth"):
        LinkSpec.from_units(10, 0)


# ---------------------------------------------------------------- a payload: paper-scale bytes through the link

PAYLOAD_NUMEL, PAYLOAD_SCALE = 25_000, 10.0  # 100 kB of real tensor standing for 1 MB


@pytest.fixture(scope="module")
def payload_rows():
    from sharegrad.wan.probes import payload_transfers

    return run_local(payload_transfers, 2, (LATENCY_MS, BANDWIDTH_MBPS, PAYLOAD_NUMEL, PAYLOAD_SCALE), timeout_s=150)


def test_a_payload_moves_that_many_bytes_through_the_process_group_and_the_link_charges_them(payload_rows):
    padded = int(round(4 * PAYLOAD_NUMEL * PAYLOAD_SCALE))
    for rank_rows in payload_rows:
        rows = {row["kind"]: row for row in rank_rows}
        assert set(rows) == {"all_reduce", "all_gather", "count_external", "slotted_as_gather"}
        for kind, row in rows.items():
            # real tensors of the payload's size went through torch.distributed (the filler rounds up to 4 bytes)
            assert padded <= row["moved_bytes"] < padded + 4, (kind, row)
            assert row["filler_bytes"] == row["moved_bytes"] - row["payload_bytes"]
        assert rows["all_reduce"]["charged_bytes"] == ring_bytes(padded, 2)
        assert rows["all_gather"]["charged_bytes"] == ring_bytes(padded, 2, "all_gather")
        assert rows["count_external"]["charged_bytes"] == ring_bytes(padded, 2)
        # one slot per rank, gathered: half the bytes of the all-reduce at 2 ranks
        assert rows["slotted_as_gather"]["charged_bytes"] == ring_bytes(padded // 2, 2, "all_gather")
        for row in rows.values():
            expected = LATENCY_MS / 1000 + 8 * row["charged_bytes"] / (BANDWIDTH_MBPS * 1e6)
            assert row["elapsed_s"] >= expected, row


def test_a_payload_is_waited_for_as_the_link_says(monkeypatch):
    """Exact arithmetic on a fake clock: an all-reduce of b real bytes at payload scale s completes at
    start + L + ring(s b) / B, and two in flight queue on the link."""
    import torch

    from sharegrad.sync.comm import Handle
    from sharegrad.wan import link as link_module

    clock = FakeClock()

    class Work:
        def wait(self):
            return True

    class Comm(FakeComm):
        group = None

        def all_reduce(self, tensor, async_op=False, average=True):
            return Handle(self, tensor, None, average, clock(), ring_bytes(tensor.numel() * 4, 2))

    sent = []
    monkeypatch.setattr(link_module.dist, "all_reduce", lambda t, group=None, async_op=False: sent.append(t.numel())
                        or Work())
    link = EmulatedLink(Comm(), LinkSpec.from_units(300, 15), clock=clock, sleep=clock.sleep, payload_scale=8.0)
    first = link.all_reduce(torch.zeros(1000), async_op=True)
    second = link.all_reduce(torch.zeros(1000), async_op=True)
    send = 8 * ring_bytes(8 * 4000, 2) / 15e6
    assert sent == [7000, 7000]  # the filler: the 7000 elements the real 1000 lack
    assert first.due == pytest.approx(send + 0.3)
    assert second.due == pytest.approx(2 * send + 0.3)
    second.wait()
    assert clock.now == pytest.approx(2 * send + 0.3)
    assert link.link_counters.wire_bytes == 2 * ring_bytes(32000, 2)


def test_a_payload_below_the_model_is_refused():
    with pytest.raises(UserError, match="payload scale must be >= 1"):
        EmulatedLink(FakeComm(), LinkSpec.from_units(300, 15), payload_scale=0.5)


def test_a_released_link_waits_for_nothing_more():
    """After a measurement's last timed step, the final flush does not wait out the link's queue."""
    clock = FakeClock()
    link = EmulatedLink(FakeComm(), LinkSpec.from_units(300, 15), clock=clock, sleep=clock.sleep)
    due = link.schedule(0.0, 10_000_000)
    link.release()
    link.sleep_until(due)
    assert clock.now == 0.0 and link.link_counters.sleep_seconds == 0.0
