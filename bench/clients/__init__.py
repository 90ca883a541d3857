"""Load clients run as separate processes (`python -m bench.clients.<name>`), reporting JSON
lines on stdout."""
