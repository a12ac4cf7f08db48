"""quantlab.kernels (see DESIGN.md).

Every kernel is compiled with its functions aligned to 64 bytes (LLVM's
``-align-all-functions=6``; the default is 16). A hot loop's speed on current x86 cores
depends on where its branches fall relative to 64-byte fetch blocks: with 16-byte
alignment that varied with where the machine code happened to be loaded, and the sweep
kernel ran about 20 % slower in some processes than in others. Aligned, a compiled
kernel runs the same in every process. Only padding between functions changes; the
instructions, and so every result, are the same.
"""

try:  # numba's own handle on llvmlite.binding (kernels import numpy and numba only)
    from numba.core.codegen import ll as _llvm
except ImportError:  # pragma: no cover - a numba without it: the default alignment
    _llvm = None

if _llvm is not None:
    _llvm.set_option("quantlab", "-align-all-functions=6")
