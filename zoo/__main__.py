"""``python -m zoo``: the ``zoo`` command (torchrun starts data-parallel ranks this way)."""

from zoo.cli import main

if __name__ == "__main__":
    main()
