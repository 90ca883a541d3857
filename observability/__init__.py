"""Observability: the Prometheus metrics (`metrics`, `exposition`), the OpenTelemetry traces
(`tracing`, and `tracing_setup` when they are on) and the log format (`logs`), below infra/ in
the layers so that every layer can feed them."""
