"""Deprecated: the plugin API moved to :mod:`zoo.api` in plugin API 2.0; this path goes in 3.0."""

import warnings

from zoo.api.sizes import check_input_size  # noqa: F401

warnings.warn("zoo.models is deprecated since zoo plugin API 2.0; import from zoo.api", DeprecationWarning,
              stacklevel=2)
