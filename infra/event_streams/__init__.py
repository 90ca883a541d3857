"""Per-thread append-only event logs with stream ids: Redis Streams, or in-process in embedded mode.

The agent runtime appends every AG-UI event of a thread here; SSE clients read it with `tail()`,
resuming strictly after a `Last-Event-ID`. Ids look like Redis stream ids (`<ms>-<seq>`, strictly
increasing per thread) in both implementations, so a cursor means the same thing everywhere.

- `ids`: parsing, formatting and comparing stream ids;
- `base`: the `EventStreams` interface, the in-process fan-out to tails (one live reader per
  thread, a bounded buffer per subscriber) and ending every tail on shutdown;
- `memory`: `MemoryEventStreams`, for embedded mode;
- `redis_streams`: `RedisEventStreams` (`XADD`/`XRANGE`/`XREAD`), and how it survives a Redis
  restart;
- `build`: `build_event_streams`, which picks one from the settings.
"""

from infra.event_streams.base import Event, EventStreams, end_tails_on_shutdown
from infra.event_streams.build import build_event_streams
from infra.event_streams.ids import StreamId, compare_ids, parse_stream_id
from infra.event_streams.memory import MemoryEventStreams
from infra.event_streams.redis_streams import RedisEventStreams

__all__ = [
    "Event",
    "EventStreams",
    "MemoryEventStreams",
    "RedisEventStreams",
    "StreamId",
    "build_event_streams",
    "compare_ids",
    "end_tails_on_shutdown",
    "parse_stream_id",
]
