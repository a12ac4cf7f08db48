"""Tests of quantlab.lifecycle (a package, so its conftest does not shadow tests/conftest.py)."""
