"""The one registry helper: explicit registration, errors that list names, plug-ins."""

from __future__ import annotations

import importlib.metadata
import sys
import types

import pytest

from quantlab.errors import ConfigError
from quantlab.registry import Registry


def test_register_and_get_plain_call():
    reg: Registry[int] = Registry("widget")
    assert reg.register("a", 1) == 1
    reg.register("b", 2)
    assert reg.get("a") == 1
    assert reg.names() == ["a", "b"]
    assert "a" in reg and "z" not in reg
    assert list(reg) == ["a", "b"]
    assert len(reg) == 2
    assert reg.items() == [("a", 1), ("b", 2)]


def test_decorator_form_returns_the_object():
    reg: Registry = Registry("strategy")

    @reg.register("ma_cross")
    def ma_cross():
        return "signal"

    assert ma_cross() == "signal"
    assert reg.get("ma_cross") is ma_cross


def test_duplicate_refused_unless_replace():
    reg: Registry = Registry("factor")
    reg.register("x", object())
    with pytest.raises(ConfigError, match="factor name 'x' is already registered"):
        reg.register("x", object())
    new = object()
    assert reg.register("x", new, replace=True) is new
    assert reg.get("x") is new


def test_same_object_again_is_a_no_op():
    reg: Registry = Registry("factor")
    obj = object()
    reg.register("x", obj)
    reg.register("x", obj)
    assert reg.names() == ["x"]


def test_unknown_lists_known_names_sorted():
    reg: Registry = Registry("data source")
    for n in ("synthetic", "files", "hyperliquid"):
        reg.register(n, n)
    with pytest.raises(ConfigError) as info:
        reg.get("nope")
    assert str(info.value).startswith(
        "unknown data source 'nope'; known: files, hyperliquid, synthetic"
    )
    with pytest.raises(ConfigError, match="did you mean synthetic"):
        reg.get("synthetc")


def test_unknown_in_empty_registry_and_non_str():
    reg: Registry = Registry("backend")
    with pytest.raises(ConfigError, match=r"unknown backend 'x'; known: \(none registered\)"):
        reg.get("x")
    with pytest.raises(ConfigError, match="backend name must be a str, got int 3"):
        reg.get(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", " a", "a ", None, 5])
def test_bad_names_refused(bad):
    reg: Registry = Registry("widget")
    with pytest.raises(ConfigError, match="widget name must be a non-empty str"):
        reg.register(bad, 1)  # type: ignore[arg-type]


def test_unregister():
    reg: Registry = Registry("widget")
    reg.register("a", 1)
    assert reg.unregister("a") == 1
    assert "a" not in reg
    with pytest.raises(ConfigError, match="unknown widget 'a'"):
        reg.unregister("a")


def test_bad_kind():
    with pytest.raises(ConfigError, match="kind"):
        Registry("")


# -- plug-ins through entry points --------------------------------------------------------


class _FakeEntryPoint:
    def __init__(self, name: str, value: str, obj=None, exc: Exception | None = None):
        self.name = name
        self.value = value
        self._obj = obj
        self._exc = exc
        self.loads = 0

    def load(self):
        self.loads += 1
        if self._exc is not None:
            raise self._exc
        return self._obj


def _patch_entry_points(monkeypatch, group: str, eps: list[_FakeEntryPoint]) -> list[str]:
    calls: list[str] = []

    def fake(*, group: str | None = None, **kw):
        calls.append(group)
        return list(eps) if group == wanted else []

    wanted = group
    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    return calls


def test_plugin_object_registered_under_entry_point_name_lazily_once(monkeypatch):
    def my_source():
        return "bars"

    ep = _FakeEntryPoint("my_venue", "my_pkg.sources:my_source", obj=my_source)
    calls = _patch_entry_points(monkeypatch, "quantlab.test_sources", [ep])
    reg: Registry = Registry("data source", entry_point_group="quantlab.test_sources")
    reg.register("synthetic", "builtin")
    assert calls == []  # nothing read at construction or registration
    assert reg.get("my_venue") is my_source
    assert reg.names() == ["my_venue", "synthetic"]
    assert "my_venue" in reg and len(reg) == 2
    assert calls == ["quantlab.test_sources"]  # read once
    assert ep.loads == 1


def test_plugin_module_registers_itself(monkeypatch):
    reg: Registry = Registry("factor", entry_point_group="quantlab.test_factors")
    module = types.ModuleType("fake_plugin_module")

    class _Loader(_FakeEntryPoint):
        def load(self):
            # importing the module runs its registrations (which may look names up)
            reg.register("plug_factor", "spec")
            assert "plug_factor" in reg
            return module

    _patch_entry_points(
        monkeypatch, "quantlab.test_factors", [_Loader("mods", "fake_plugin_module")]
    )
    assert reg.names() == ["plug_factor"]
    assert "mods" not in reg  # a module is not itself an entry
    monkeypatch.delitem(sys.modules, "fake_plugin_module", raising=False)


def test_plugin_cannot_shadow_a_builtin(monkeypatch):
    ep = _FakeEntryPoint("synthetic", "evil:thing", obj=object())
    _patch_entry_points(monkeypatch, "quantlab.test_sources", [ep])
    reg: Registry = Registry("data source", entry_point_group="quantlab.test_sources")
    reg.register("synthetic", "builtin")
    with pytest.raises(ConfigError, match="data source name 'synthetic' is already registered"):
        reg.get("synthetic")


def test_broken_plugin_names_the_entry_point(monkeypatch):
    ep = _FakeEntryPoint("broken", "nowhere.mod:fn", exc=ModuleNotFoundError("nowhere"))
    _patch_entry_points(monkeypatch, "quantlab.test_sources", [ep])
    reg: Registry = Registry("data source", entry_point_group="quantlab.test_sources")
    with pytest.raises(ConfigError, match=r"plug-in 'broken' \(entry point 'nowhere.mod:fn'"):
        reg.names()


def test_no_group_never_reads_entry_points(monkeypatch):
    calls = _patch_entry_points(monkeypatch, "x", [])
    reg: Registry = Registry("widget")
    reg.register("a", 1)
    assert reg.names() == ["a"]
    assert calls == []


def test_view_is_live_and_read_only():
    reg: Registry[int] = Registry("widget")
    view = reg.view()
    reg.register("a", 1)
    assert dict(view.items()) == {"a": 1} and "a" in view and len(view) == 1
    assert view.get("zz") is None
    with pytest.raises(KeyError, match="unknown widget 'zz'; known: a"):
        view["zz"]
    with pytest.raises(TypeError):
        view["b"] = 2  # type: ignore[index]
