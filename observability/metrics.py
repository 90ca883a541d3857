"""The Prometheus metrics of every process: the metric objects and the small calls that feed them.

The transports, the agent runtime and infra/ call the functions below; nothing else here knows
about them. Every label is bounded: HTTP requests are labelled by route template (never the raw
path), GraphQL operations by a name from a capped set, rate limits by the rule's fixed name.

Under `runtime-api serve` with metrics configured, `PROMETHEUS_MULTIPROC_DIR` is set before any
process imports prometheus_client, so these objects write to memory-mapped files that the
scrape of any process reads together (`observability.exposition`); the gauges' multiprocess
modes say how the processes' values combine. Elsewhere they are ordinary in-process metrics.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# The `_created` series double every counter's output and no query here uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Latencies of API calls: a few ms for cached reads, up to seconds for a sign-up's Argon2 work.
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Runs take seconds (tool loops, model calls) to minutes (a slow model).
_RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

HTTP_REQUESTS = Counter(
    "runtime_api_http_requests",
    "HTTP requests answered, by method, route template and status",
    ("method", "route", "status"),
)
HTTP_DURATION = Histogram(
    "runtime_api_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response (an SSE stream: its whole life)",
    ("method", "route", "status"),
    buckets=_LATENCY_BUCKETS,
)
GRAPHQL_OPERATIONS = Counter(
    "runtime_api_graphql_operations",
    "GraphQL operations executed (HTTP and websockets), by operation name and type",
    ("operation", "type"),
)
GRAPHQL_ERRORS = Counter(
    "runtime_api_graphql_errors",
    "GraphQL errors sent, by operation name, type and extensions.code",
    ("operation", "type", "code"),
)
SSE_STREAMS_OPEN = Gauge(
    "runtime_api_sse_streams_open",
    "Agent event streams (text/event-stream responses) open now",
    multiprocess_mode="livesum",
)
WEBSOCKETS_OPEN = Gauge(
    "runtime_api_graphql_websockets_open",
    "GraphQL websocket connections open now (both subprotocols)",
    multiprocess_mode="livesum",
)
SUBSCRIPTIONS_ACTIVE = Gauge(
    "runtime_api_graphql_subscriptions_active",
    "GraphQL subscriptions running now",
    multiprocess_mode="livesum",
)
EVENTS_FANNED_OUT = Counter(
    "runtime_api_events_fanned_out",
    "Events handed to local subscribers (one per subscriber), by stream kind",
    ("stream",),
)
FANOUT_LAG = Histogram(
    "runtime_api_event_fanout_lag_seconds",
    "Time from an agent event's append to its hand-off to this process's subscribers",
    buckets=_LAG_BUCKETS,
)
AGENT_RUNS = Counter(
    "runtime_api_agent_runs",
    "Agent runs a worker ended, by outcome (finished, interrupted, error, worker_lost)",
    ("outcome",),
)
AGENT_RUN_DURATION = Histogram(
    "runtime_api_agent_run_duration_seconds",
    "Time a worker spent executing a run, by outcome",
    ("outcome",),
    buckets=_RUN_BUCKETS,
)
AGENT_RUNS_RUNNING = Gauge(
    "runtime_api_agent_runs_running",
    "Runs this process is executing now",
    multiprocess_mode="livesum",
)
AGENT_QUEUE_DEPTH = Gauge(
    "runtime_api_agent_runs_queued",
    "Runs accepted and not yet started (the queue's depth), sampled by each worker's reaper",
    multiprocess_mode="mostrecent",
)
MODEL_TOKENS = Counter(
    "runtime_api_model_tokens",
    "Tokens the language model reported using, by model and kind (prompt, completion)",
    ("model", "kind"),
)
RATE_LIMIT_REJECTIONS = Counter(
    "runtime_api_rate_limit_rejections",
    "Requests refused by a rate limit or a per-user cap, by limit",
    ("limit",),
)
DB_POOL_CONNECTIONS = Gauge(
    "runtime_api_db_pool_connections",
    "PostgreSQL pool connections, by state (in_use, idle), sampled every few seconds",
    ("state",),
    multiprocess_mode="livesum",
)
REDIS_RECONNECTS = Counter(
    "runtime_api_redis_reconnects",
    "Redis connections dropped and opened again, by client (commands, pubsub, streams, queue)",
    ("client",),
)

# --- HTTP -------------------------------------------------------------------------------------

_http_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    # `.labels()` takes a lock and builds a key each call; the children are kept instead.
    key = (method, route, status)
    children = _http_children.get(key)
    if children is None:
        labels = (method, route, str(status))
        children = (HTTP_REQUESTS.labels(*labels), HTTP_DURATION.labels(*labels))
        _http_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


# --- GraphQL ----------------------------------------------------------------------------------

MAX_OPERATION_NAMES = 200  # per process: a client inventing names cannot grow the series
ANONYMOUS, OTHER, INVALID = "_anonymous", "_other", "_invalid"
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
_names: set[str] = set()
_names_lock = threading.Lock()


def operation_label(name: str | None) -> str:
    """The label of an operation name: itself while the process has seen fewer than
    `MAX_OPERATION_NAMES` distinct names, `_other` after that, `_anonymous` without one."""
    if not name:
        return ANONYMOUS
    if name in _names:
        return name
    if not _NAME.match(name):
        return OTHER
    with _names_lock:
        if len(_names) >= MAX_OPERATION_NAMES:
            return OTHER
        _names.add(name)
    return name


_graphql_ops: dict[tuple[str, str], Counter] = {}
_graphql_errors: dict[tuple[str, str, str], Counter] = {}


def observe_graphql(operation: str, kind: str, codes: Sequence[str]) -> None:
    """One operation. Its latency is the HTTP histogram's (route `/graphql`): timing it here
    too would cost every operation a histogram write for little news."""
    # The children are kept (as for HTTP): `.labels()` costs more than the increment.
    ops = _graphql_ops.get((operation, kind))
    if ops is None:
        ops = _graphql_ops[(operation, kind)] = GRAPHQL_OPERATIONS.labels(operation, kind)
    ops.inc()
    for code in codes:
        errors = _graphql_errors.get((operation, kind, code))
        if errors is None:
            errors = GRAPHQL_ERRORS.labels(operation, kind, code)
            _graphql_errors[(operation, kind, code)] = errors
        errors.inc()


# --- streams, runs, limits ----------------------------------------------------------------------

_fanned_out: dict[str, Counter] = {}


def count_fanned_out(stream: str, deliveries: int) -> None:
    child = _fanned_out.get(stream)
    if child is None:
        child = _fanned_out[stream] = EVENTS_FANNED_OUT.labels(stream)
    child.inc(deliveries)


def observe_run(outcome: str, seconds: float | None) -> None:
    AGENT_RUNS.labels(outcome).inc()
    if seconds is not None:
        AGENT_RUN_DURATION.labels(outcome).observe(seconds)


def count_tokens(model: str, prompt: object, completion: object) -> None:
    """Counts what the model's answer reported (whatever a compatible server sent there)."""
    for kind, tokens in (("prompt", prompt), ("completion", completion)):
        if isinstance(tokens, int) and tokens > 0:
            MODEL_TOKENS.labels(model, kind).inc(tokens)


def count_rejection(limit: str) -> None:
    RATE_LIMIT_REJECTIONS.labels(limit).inc()


def count_redis_reconnect(client: str) -> None:
    REDIS_RECONNECTS.labels(client).inc()


def set_db_pool(in_use: int, idle: int) -> None:
    DB_POOL_CONNECTIONS.labels("in_use").set(in_use)
    DB_POOL_CONNECTIONS.labels("idle").set(idle)
