"""The ``zoo`` command line: typer commands that parse, call the library and render. No logic lives here."""

from __future__ import annotations


def main() -> None:
    """Console-script entry point (``zoo``); see :func:`zoo.cli.app.main`."""
    from zoo.cli.app import main as run

    run()
