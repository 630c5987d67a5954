"""The registry: every model, dataset and backend the plugins registered.

Built once per process from the loaded plugins by calling each hook
implementation on its own, so one raising plugin hides nothing of the others.
Lookups by exact name (with suggestions) and by fnmatch globs.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from zoo.api.errors import PluginError, UsageError, describe_error
from zoo.api.specs import BackendSpec, DatasetSpec, ModelSpec
from zoo.plugins.discovery import LoadedPlugins, PluginFailure, PluginInfo, load_plugins, strict_mode, warn_failures

Spec = TypeVar("Spec", ModelSpec, DatasetSpec, BackendSpec)


@dataclass(frozen=True)
class Registered(Generic[Spec]):
    """A spec together with the plugin that registered it."""

    spec: Spec
    plugin: PluginInfo

    @property
    def name(self) -> str:
        """The spec's name."""
        return self.spec.name


def natural_key(text: str) -> tuple[object, ...]:
    """Sort key that orders ``resnet9`` before ``resnet18``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text.lower()))


def matches(name: str, patterns: Sequence[str]) -> bool:
    """Whether ``name`` matches any of the case-insensitive fnmatch ``patterns``."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


def _suggest(kind: str, name: str, candidates: Iterable[str]) -> UsageError:
    close = difflib.get_close_matches(name.lower(), list(candidates), n=1, cutoff=0.6)
    if close:
        hint = f"; did you mean {close[0]!r}?"
    else:
        hint = {"model": "; see 'zoo list'", "dataset": "; see 'zoo data list'"}.get(kind, "; see 'zoo plugins'")
    return UsageError(f"unknown {kind} {name!r}{hint}")


@dataclass
class Registry:
    """Everything registered, keyed by name, plus plugin bookkeeping."""

    models: dict[str, Registered[ModelSpec]] = field(default_factory=dict)
    datasets: dict[str, Registered[DatasetSpec]] = field(default_factory=dict)
    backends: dict[str, Registered[BackendSpec]] = field(default_factory=dict)
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    warnings: list[PluginFailure] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    conflicts: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @classmethod
    def from_plugins(cls, loaded: LoadedPlugins) -> Registry:
        """Call every hook implementation of every loaded plugin, one at a time."""
        registry = cls(
            plugins=dict(loaded.infos),
            failures=list(loaded.failures),
            warnings=list(loaded.warnings),
            disabled=list(loaded.disabled),
        )
        hook = loaded.manager.hook
        registry._collect(loaded, hook.zoo_register_backends, BackendSpec, registry.backends)
        registry._collect(loaded, hook.zoo_register_datasets, DatasetSpec, registry.datasets)
        registry._collect(loaded, hook.zoo_register_models, ModelSpec, registry.models)
        loaded.watch.close()
        return registry

    def _collect(
        self,
        loaded: LoadedPlugins,
        caller: object,
        spec_type: type[Spec],
        into: dict[str, Registered[Spec]],
    ) -> None:
        hook_name = caller.name  # type: ignore[attr-defined]
        for impl in caller.get_hookimpls():  # type: ignore[attr-defined]
            info = loaded.infos.get(impl.plugin_name)
            if info is None:
                continue
            staged: dict[str, Registered[Spec]] = {}
            register = self._registrar(info, hook_name, spec_type, into, staged)
            try:
                with loaded.watch.loading(info.name, info.distribution):
                    impl.function(**{arg: register for arg in impl.argnames})
            except Exception as exc:
                self._fail(info, hook_name, describe_error(exc))
                continue
            # Only a hook that finished contributes: no half-registered plugin.
            into.update(staged)
        for name in self.conflicts.get(spec_type.__name__, {}):
            into.pop(name, None)

    def _registrar(
        self,
        info: PluginInfo,
        hook_name: str,
        spec_type: type[Spec],
        into: dict[str, Registered[Spec]],
        staged: dict[str, Registered[Spec]],
    ) -> Callable[[Spec], None]:
        kind = spec_type.__name__

        def register(spec: Spec) -> None:
            if not isinstance(spec, spec_type):
                raise PluginError(f"{hook_name} expects {kind}, got {type(spec).__name__}")
            claimants = self.conflicts.setdefault(kind, {})
            owner = into.get(spec.name) or staged.get(spec.name)
            if spec.name in claimants or owner is not None:
                # Neither claimant wins: install order must not decide what a name means.
                names = claimants.setdefault(spec.name, [owner.plugin.distribution] if owner else [])
                names.append(info.distribution)
                self._fail(info, hook_name, f"{kind} name {spec.name!r} is registered by both {' and '.join(names)}")
                return
            staged[spec.name] = Registered(spec, info)

        return register

    def _fail(self, info: PluginInfo, stage: str, error: str) -> None:
        self.failures.append(PluginFailure(info.name, info.distribution, stage, error))

    # -- lookups -----------------------------------------------------------------

    def _check_conflict(self, spec_type: type, name: str) -> None:
        claimants = self.conflicts.get(spec_type.__name__, {}).get(name.lower())
        if claimants:
            kind = spec_type.__name__.removesuffix("Spec").lower()
            raise PluginError(
                f"{kind} {name!r} is registered by both {' and '.join(claimants)}; uninstall one, "
                "or hide one with ZOO_DISABLE_PLUGINS=<plugin>"
            )

    def model(self, name: str) -> Registered[ModelSpec]:
        """The model called ``name``, or a usage error suggesting close names."""
        found = self.models.get(name.lower())
        if found is None:
            self._check_conflict(ModelSpec, name)
            raise _suggest("model", name, self.models)
        return found

    def dataset(self, name: str) -> Registered[DatasetSpec]:
        """The dataset registered as ``name``, or a usage error suggesting close names.

        A folder given by its path, and the freshness of a local dataset's files, are the data
        layer's business: :func:`zoo.data.datasets.find_dataset` looks names up here first.
        """
        found = self.datasets.get(name.lower())
        if found is None:
            self._check_conflict(DatasetSpec, name)
            raise _suggest("dataset", name, self.datasets)
        return found

    def backend(self, name: str) -> Registered[BackendSpec]:
        """The backend called ``name``, or a usage error naming the known ones."""
        found = self.backends.get(name.lower())
        if found is None:
            self._check_conflict(BackendSpec, name)
            raise _suggest("backend", name, self.backends)
        return found

    def select_models(
        self,
        patterns: Sequence[str] = (),
        *,
        exclude: Sequence[str] = (),
        backend: str | None = None,
        family: str | None = None,
        plugin: str | None = None,
    ) -> list[Registered[ModelSpec]]:
        """Models matching any pattern (all if none), minus excludes, naturally sorted."""
        selected = [
            entry
            for entry in self.models.values()
            if (not patterns or matches(entry.name, patterns))
            and not matches(entry.name, exclude)
            and (backend is None or entry.spec.backend == backend.lower())
            and (family is None or entry.spec.family == family.lower())
            and (plugin is None or plugin.lower() in {entry.plugin.name.lower(), entry.plugin.distribution.lower()})
        ]
        return sorted(selected, key=lambda entry: natural_key(entry.name))

    def contributions(self, plugin_name: str) -> dict[str, list[str]]:
        """Names of the models, datasets and backends one plugin registered."""
        result: dict[str, list[str]] = {}
        for kind, table in (("models", self.models), ("datasets", self.datasets), ("backends", self.backends)):
            names = [n for n, entry in table.items() if entry.plugin.name == plugin_name]
            result[kind] = sorted(names, key=natural_key)
        return result


@functools.cache
def get_registry() -> Registry:
    """The process-wide registry, built on first use from the installed plugins.

    Plugin failures and warnings (a plugin that implements no hook, or imports a framework when
    loaded) are warned once on stderr; with ``ZOO_STRICT_PLUGINS=1`` the first one raises
    :class:`~zoo.api.PluginError` instead.
    """
    registry = Registry.from_plugins(load_plugins())
    problems = [*registry.failures, *registry.warnings]
    if problems:
        if strict_mode():
            raise PluginError(
                f"{problems[0].line()} (ZOO_STRICT_PLUGINS is set; "
                "unset it or ZOO_DISABLE_PLUGINS=<name> to go on without it)"
            )
        warn_failures(problems)
    return registry
