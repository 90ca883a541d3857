"""Configuration read from the environment (docs/contract.md §1)."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
