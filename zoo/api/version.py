"""The version of the plugin contract, and the check of the range a plugin declares.

A plugin module may say which versions of the contract it was written for::

    zoo_plugin_api = ">=2.0,<3"   # a PEP 440 version specifier

A plugin that declares nothing is assumed compatible. The version's major
number changes when a hook or a record changes incompatibly; the minor number
when something is added. A major version keeps the previous one's names working
(with a DeprecationWarning) for one more major version: 2.0 runs 1.0 plugins.
"""

from __future__ import annotations

ZOO_VERSION = "0.1.0"
# 2.1 added ModelSpec.pretrained, load_pretrained, TrainConfig.pretrained/weights, namespaced model names
# and the weight maps of zoo convert (WeightMap, LayerMap, ModelSpec.weight_map).
# 2.2 added cache_home, where a plugin keeps what it can rebuild (zoo-keras: JAX's compiled programs).
PLUGIN_API_VERSION = "2.2"
# Contracts this zoo still runs, through the deprecated names kept for one version (docs/plugins.md).
SUPPORTED_API_VERSIONS = ("1.0", "2.0", "2.1", PLUGIN_API_VERSION)
API_ATTRIBUTE = "zoo_plugin_api"

_PROBES = tuple(f"{major}.{minor}" for major in range(1, 10) for minor in range(10))


def api_mismatch(plugin: object, who: str) -> str | None:
    """Why ``plugin`` (shipped by ``who``) cannot run against this zoo, or None when it can."""
    declared = getattr(plugin, API_ATTRIBUTE, None)
    if declared is None:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    example = "such as '>=2.0,<3'"
    if not isinstance(declared, str):
        return f"plugin {who} declares {API_ATTRIBUTE} = {declared!r}, not a version specifier string {example}"
    try:
        supported = SpecifierSet(declared)
    except InvalidSpecifier:
        return (
            f"plugin {who} declares {API_ATTRIBUTE} = {declared!r}, which is not a PEP 440 version "
            f"specifier {example}; fix the plugin or install another version of {who}"
        )
    if any(supported.contains(version, prereleases=True) for version in SUPPORTED_API_VERSIONS):
        return None
    current = Version(PLUGIN_API_VERSION)
    newer = any(Version(probe) > current and supported.contains(probe) for probe in _PROBES)
    advice = f"upgrade zoo or install an older {who}" if newer else f"upgrade {who} or install an older zoo"
    return (
        f"plugin {who} supports zoo plugin API {declared} but this zoo provides {PLUGIN_API_VERSION}; {advice}"
    )
