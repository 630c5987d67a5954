"""``python cli.py ...`` from a checkout does what the installed ``zoo`` does."""

from zoo.cli.app import main

if __name__ == "__main__":
    main()
