"""Tests of quantlab.models (a package: its module basenames may repeat other folders')."""
