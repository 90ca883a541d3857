"""The benchmark suite: `python -m bench [--quick] [--scenario NAME ...]` (docs/performance.md)."""
