"""quantlab.kernels (see DESIGN.md)."""
