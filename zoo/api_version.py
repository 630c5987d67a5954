"""Deprecated: the plugin API moved to :mod:`zoo.api` in plugin API 2.0; this path goes in 3.0."""

import warnings

from zoo.api.version import *  # noqa: F403

warnings.warn("zoo.api_version is deprecated since zoo plugin API 2.0; import from zoo.api", DeprecationWarning,
              stacklevel=2)
