"""Tests of quantlab.execution (a package: its module basenames may repeat other folders')."""
