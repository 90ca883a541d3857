"""How long and how big: the full run and `--quick` (about three minutes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    wrk_duration_s: int  # per wrk measurement
    wrk_warmup_s: int
    own_items: int  # the viewer's items: own + shared = the 50 listed
    shared_items: int
    other_items_small: int  # items of other users before the growth step
    other_items_large: int  # ... and after it
    other_recurring_items: int  # of other_items_large: series (bench/recurring.py)
    subscribers: int  # SSE / websocket fan-out
    fanout_events: int
    run_rate: float  # runs per second in the run-latency scenario
    run_duration_s: float
    run_threads: int
    sign_ins: int
    calendar_subscribers: int  # users subscribed to one shared item / each to its inbox
    calendar_changes: int  # writes of the shared item, each delivered before the next
    mixed_subscribers: int  # half SSE, half websocket, on one thread
    workers_subscribers: int  # SSE subscribers of `serve --workers 2`
    workers_events: int


FULL = Profile(
    name="full",
    wrk_duration_s=15,
    wrk_warmup_s=3,
    own_items=30,
    shared_items=20,
    other_items_small=1_000,
    other_items_large=200_000,
    other_recurring_items=1_000,
    subscribers=1_000,
    fanout_events=500,
    run_rate=20.0,
    run_duration_s=20.0,
    run_threads=40,
    sign_ins=20,
    calendar_subscribers=1_000,
    calendar_changes=20,
    mixed_subscribers=1_000,
    workers_subscribers=5_000,
    workers_events=110,
)

QUICK = Profile(
    name="quick",
    wrk_duration_s=4,
    wrk_warmup_s=1,
    own_items=30,
    shared_items=20,
    other_items_small=1_000,
    other_items_large=50_000,
    other_recurring_items=1_000,
    subscribers=200,
    fanout_events=200,
    run_rate=20.0,
    run_duration_s=5.0,
    run_threads=20,
    sign_ins=10,
    calendar_subscribers=300,
    calendar_changes=8,
    mixed_subscribers=400,
    workers_subscribers=2_000,
    workers_events=44,
)
