"""Shared type aliases."""

from __future__ import annotations

from os import PathLike
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
PathLikeStr: TypeAlias = str | PathLike[str]

#: When an order decided at a bar's close fills: the next bar's open or that close.
Fill: TypeAlias = Literal["next_open", "close"]
#: What to do with missing bars: refuse, forward-fill, or accept the gap.
Gaps: TypeAlias = Literal["error", "ffill", "allow"]
#: Which rows of a parameter sweep to keep.
Keep: TypeAlias = Literal["all", "top"]
