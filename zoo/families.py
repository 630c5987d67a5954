"""Deprecated: the plugin API moved to :mod:`zoo.api` in plugin API 2.0; this path goes in 3.0."""

import warnings

from zoo.api.families import *  # noqa: F403

warnings.warn("zoo.families is deprecated since zoo plugin API 2.0; import from zoo.api", DeprecationWarning,
              stacklevel=2)
