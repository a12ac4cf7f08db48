"""Lazy submodules: imported on first access, once, and nothing else is served."""

from __future__ import annotations

import subprocess
import sys

import pytest

from quantlab._lazy import lazy_submodules


def test_a_submodule_loads_on_first_access_and_is_then_a_plain_attribute():
    code = (
        "import sys, quantlab as ql\n"
        "assert 'quantlab.data' not in sys.modules and 'quantlab.data.store' not in sys.modules\n"
        "store = ql.data.store\n"
        "assert store is sys.modules['quantlab.data.store']\n"
        "assert vars(ql.data)['store'] is store and vars(ql)['data'] is ql.data\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_anything_else_is_an_attribute_error_naming_package_and_name():
    namespace: dict = {}
    hook = lazy_submodules("quantlab.data", namespace)
    assert hook("schema").__name__ == "quantlab.data.schema" and "schema" in namespace
    for name in ("nope", "_private"):
        message = f"module 'quantlab.data' has no attribute '{name}'"
        with pytest.raises(AttributeError, match=message):
            hook(name)
    only = lazy_submodules("quantlab", {}, names=("data",))
    with pytest.raises(AttributeError, match="module 'quantlab' has no attribute 'errors'"):
        only("errors")  # a real submodule, but not one of the names served
    assert only("data").__name__ == "quantlab.data"
