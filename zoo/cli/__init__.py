"""The ``zoo`` command line: typer commands that parse, call the library and render. No logic lives here."""

from __future__ import annotations


def main() -> None:
    """Console-script entry point (``zoo``); see :func:`zoo.cli.app.main`."""
    from zoo.cli.app import main as run

    try:
        run()
    except SystemExit as exc:
        if exc.code == 130:  # interrupted: a data-parallel rank tells its launcher instead (torchrun's rules)
            from zoo.run.distributed import settle_exit

            exc.code = settle_exit(exc.code)
        raise
