"""zoo's entry point for zoo-timm: every timm architecture as ``timm/<name>``.

Only metadata here, read from the generated ``index.json``: importing this module imports
neither torch nor timm. The models are trained by zoo-torch's ``torch`` backend.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo.api import ModelSpec, hookimpl

zoo_plugin_api = ">=2.1,<3"  # the zoo plugin API versions this plugin is written for (ModelSpec.pretrained)


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """One spec per name of the pinned timm's ``list_models()``."""
    from zoo_timm.index import specs

    for spec in specs():
        register(spec)
