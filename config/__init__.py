"""Configuration read from the environment (CONTRACT §1)."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
