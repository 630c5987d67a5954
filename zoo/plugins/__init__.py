"""Plugin discovery (entry points, isolation, strict mode), the registry built from what loaded, and
the backends it names. A layer above :mod:`zoo.api`, below data, runs and the CLI."""
