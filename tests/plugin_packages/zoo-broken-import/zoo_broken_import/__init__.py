"""A plugin whose module raises on import."""

raise RuntimeError("zoo-broken-import exploded on import")
