"""Many runs: ``zoo compare`` and ``zoo bench``: typed jobs, worker processes, rows and conditions.

Named apart from :func:`zoo.compare` (the function), which importing a ``zoo.compare`` package would shadow.
"""
