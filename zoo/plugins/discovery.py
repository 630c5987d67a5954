"""Plugin discovery: entry points loaded one by one, failures kept, never fatal.

pluggy's ``load_setuptools_entrypoints`` stops at the first broken plugin and a
hook call stops at the first raising implementation, so zoo loads each entry
point and calls each hook implementation on its own. Failures are recorded for
``zoo plugins``, warned once on stderr, and fatal only with ``ZOO_STRICT_PLUGINS=1``.

A plugin whose import (or hook) takes longer than :data:`SLOW_AFTER` seconds is
named on stderr with how to skip it, by one watchdog thread that sleeps until then.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType

import pluggy

from zoo.api import hookspecs
from zoo.api.errors import describe_error
from zoo.api.version import api_mismatch

ENTRY_POINT_GROUP = "zoo.plugins"
STRICT_ENV = "ZOO_STRICT_PLUGINS"
DISABLE_ENV = "ZOO_DISABLE_PLUGINS"
HOOK_NAMES = ("zoo_register_models", "zoo_register_datasets", "zoo_register_backends")
# A plugin module that imports one of these when zoo loads it makes every command pay for it (seconds).
FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "timm")
# Stages of a plugin that loaded and works but has a defect its author should hear of.
WARNING_STAGES = ("hooks", "import cost")
SLOW_AFTER = 3.0  # seconds one plugin may take to load before zoo says which one is still loading


class SlowPluginWatch:
    """Names, once, a plugin still loading after ``after`` seconds, and how to skip it.

    One daemon thread sleeps until the deadline of the plugin loading then. The loader
    only writes which plugin that is (no lock, no wake-up), so a plugin that loads in
    time costs an attribute write; a plugin that hangs (a dead network mount, a lock, a
    loop that releases the GIL) is named while it hangs.
    """

    def __init__(self, after: float = SLOW_AFTER) -> None:
        self.after = after
        self._current: tuple[str, str, float] | None = None  # (plugin, distribution, deadline)
        self._warned: set[str] = set()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def loading(self, name: str, distribution: str) -> Iterator[None]:
        """Watch the block that loads (or calls) plugin ``name``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="zoo-plugin-watch", daemon=True)
            self._thread.start()
        self._current = (name, distribution, time.monotonic() + self.after)
        try:
            yield
        finally:
            self._current = None

    def close(self) -> None:
        """End the watchdog thread."""
        self._done.set()

    def _run(self) -> None:
        wait = self.after
        while not self._done.wait(wait):
            current = self._current
            wait = self.after
            if current is None or current[0] in self._warned:
                continue
            name, distribution, deadline = current
            left = deadline - time.monotonic()
            if left > 0:
                wait = left
                continue
            self._warned.add(name)
            print(f"zoo: plugin {name!r} ({distribution}) is still loading after {self.after:g} s; if it "
                  f"hangs, press Ctrl-C and skip it with {DISABLE_ENV}={name}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: its entry-point name and the distribution that ships it."""

    name: str
    distribution: str
    version: str
    module: str
    hooks: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that failed to import, failed in a hook, or broke the contract."""

    plugin: str
    distribution: str
    stage: str
    error: str

    def line(self) -> str:
        """One line saying who failed where."""
        if self.stage in WARNING_STAGES:
            return f"plugin {self.plugin!r} ({self.distribution}) {self.error}"
        return f"plugin {self.plugin!r} ({self.distribution}) failed in {self.stage}: {self.error}"


@dataclass
class LoadedPlugins:
    """The plugin manager plus what loaded, what failed and what was disabled."""

    manager: pluggy.PluginManager
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    warnings: list[PluginFailure] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    watch: SlowPluginWatch = field(default_factory=SlowPluginWatch)


def new_manager() -> pluggy.PluginManager:
    """A plugin manager that knows zoo's hook specifications and nothing else."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


def disabled_names() -> set[str]:
    """Plugin or distribution names listed in ``ZOO_DISABLE_PLUGINS``."""
    raw = os.environ.get(DISABLE_ENV, "")
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


def strict_mode() -> bool:
    """Whether plugin failures are fatal (``ZOO_STRICT_PLUGINS=1``)."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _implemented_hooks(manager: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    callers = manager.get_hookcallers(plugin) or []
    return tuple(sorted(caller.name for caller in callers))


def load_plugins(
    *,
    entry_points: bool = True,
    extra: Iterable[tuple[str, ModuleType | object]] = (),
) -> LoadedPlugins:
    """Load every ``zoo.plugins`` entry point, each in isolation, plus ``extra``.

    ``extra`` registers in-process plugins (``(name, module_or_object)``), which
    is how a plugin's own tests can exercise it without installing it.
    """
    loaded = LoadedPlugins(manager=new_manager())
    blocked = disabled_names()
    if entry_points:
        for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=_ep_key):
            _load_entry_point(loaded, entry_point, blocked, loaded.watch)
    for name, plugin in extra:
        _register(loaded, plugin, PluginInfo(name, name, "", getattr(plugin, "__name__", name)))
    return loaded


def _ep_key(entry_point: metadata.EntryPoint) -> str:
    return entry_point.name


def _load_entry_point(
    loaded: LoadedPlugins, entry_point: metadata.EntryPoint, blocked: set[str], watch: SlowPluginWatch
) -> None:
    dist = entry_point.dist
    dist_name = dist.metadata["Name"] if dist is not None else "?"
    version = dist.version if dist is not None else ""
    if entry_point.name.lower() in blocked or dist_name.lower() in blocked:
        loaded.disabled.append(entry_point.name)
        return
    if entry_point.name in loaded.infos:
        first = loaded.infos[entry_point.name]
        loaded.failures.append(
            PluginFailure(
                entry_point.name,
                dist_name,
                "load",
                f"plugin name {entry_point.name!r} is already taken by {first.distribution}",
            )
        )
        return
    frameworks_before = _frameworks_loaded()
    started = time.perf_counter()
    try:
        with watch.loading(entry_point.name, dist_name):
            plugin = entry_point.load()
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        loaded.failures.append(
            PluginFailure(entry_point.name, dist_name, "import", describe_error(exc))
        )
        return
    imported = sorted(_frameworks_loaded() - frameworks_before)
    if imported:
        loaded.warnings.append(PluginFailure(
            entry_point.name, dist_name, "import cost",
            f"imports {', '.join(imported)} when zoo loads it ({time.perf_counter() - started:.1f} s on every zoo "
            "command, zoo list included); import it inside the builder or backend methods instead",
        ))
    _register(loaded, plugin, PluginInfo(entry_point.name, dist_name, version, entry_point.value))


def _frameworks_loaded() -> set[str]:
    return {name for name in FRAMEWORKS if name in sys.modules}


def _register(loaded: LoadedPlugins, plugin: object, info: PluginInfo) -> None:
    mismatch = api_mismatch(plugin, info.distribution)
    if mismatch is not None:  # refused before any hook runs against a contract it does not know
        loaded.failures.append(PluginFailure(info.name, info.distribution, "api", mismatch))
        return
    try:
        loaded.manager.register(plugin, name=info.name)
    except Exception as exc:  # pluggy validates hook signatures here
        loaded.failures.append(
            PluginFailure(info.name, info.distribution, "register", describe_error(exc))
        )
        return
    unknown = [c.name for c in loaded.manager.get_hookcallers(plugin) or [] if c.spec is None]
    if unknown:  # a misspelt hook would otherwise never be called, silently
        loaded.manager.unregister(plugin)
        loaded.failures.append(PluginFailure(
            info.name, info.distribution, "register",
            f"implements unknown hook(s) {', '.join(sorted(unknown))}; known hooks: {', '.join(HOOK_NAMES)}",
        ))
        return
    hooks = _implemented_hooks(loaded.manager, plugin)
    if not hooks:  # functions named like hooks but not marked @hookimpl are never called, silently
        loaded.warnings.append(PluginFailure(
            info.name, info.distribution, "hooks",
            f"implements no zoo hook, so it adds nothing; mark its functions with @hookimpl "
            f"(from zoo.api import hookimpl) and name them {', '.join(HOOK_NAMES)}",
        ))
    loaded.infos[info.name] = PluginInfo(
        info.name, info.distribution, info.version, info.module, hooks
    )


def warn_failures(failures: Iterable[PluginFailure]) -> None:
    """One warning line per failed plugin on stderr, pointing at ``zoo plugins``."""
    for failure in failures:
        print(
            f"zoo: warning: {failure.line()} (details: zoo plugins)",
            file=sys.stderr,
        )
