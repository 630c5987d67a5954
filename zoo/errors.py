"""Deprecated: the plugin API moved to :mod:`zoo.api` in plugin API 2.0; this path goes in 3.0."""

import warnings

from zoo.api.errors import *  # noqa: F403

warnings.warn("zoo.errors is deprecated since zoo plugin API 2.0; import from zoo.api", DeprecationWarning,
              stacklevel=2)
