"""``python cli.py ...`` from a checkout does what the installed ``zoo`` does."""

from zoo.cli import main

if __name__ == "__main__":
    main()
