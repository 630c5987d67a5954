"""zoo-timm: every timm architecture as a zoo model, ``timm/<name>``, trained by zoo-torch's backend."""

__version__ = "0.1.0"
