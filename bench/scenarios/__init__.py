"""The scenarios, each a coroutine `run(bench)` that appends rows to `bench.rows`."""
