"""The descriptor parameters as one frozen object, validated once.

:class:`DescriptorConfig` holds S, B, the value range, the percentiles of the ``"auto"``
range, ``clip`` and ``nan_policy``. Every function that computes descriptors (``mi_wd``,
``describe``, the library builder, the MI-WD representation) builds one and passes it on,
so the parameters are checked in one place with one set of messages.

The default value range is ``"auto"``: the pooled 5th and 95th percentiles of the weights
described together (for a single model, its own). The paper's fixed ``(-5, 5)`` was about
the 5th and 95th percentiles of *its* models' weights; most networks have far smaller
weights (the project's zoo: 99.9% within +-0.5), and on the fixed range their descriptors
collapse into the one or two central bins (docs/results.md). ``"auto"`` applies the paper's
rationale to the models at hand; the paper's range is ``value_range=PAPER_VALUE_RANGE``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

__all__ = [
    "DescriptorConfig",
    "DescriptorError",
    "PAPER_VALUE_RANGE",
    "DEFAULT_VALUE_RANGE",
    "DEFAULT_PERCENTILES",
    "ValueRange",
    "check_value_range",
    "check_percentiles",
]

#: The paper's histogram range: about the 5th and 95th percentiles of NWS weights.
PAPER_VALUE_RANGE: tuple[float, float] = (-5.0, 5.0)
#: The default range everywhere: percentiles of the weights described together.
DEFAULT_VALUE_RANGE: Literal["auto"] = "auto"
#: Percentiles of the ``"auto"`` range (the paper's rationale: 5th and 95th).
DEFAULT_PERCENTILES: tuple[float, float] = (5.0, 95.0)

ValueRange = tuple[float, float] | Literal["auto"]
NanPolicy = Literal["raise", "omit"]


class DescriptorError(ValueError):
    """A model cannot be described (the message names the model and the reason)."""


def check_value_range(value_range: Any) -> ValueRange:
    """``"auto"`` or a finite ``(lo, hi)`` pair of floats with lo < hi; else ValueError.

    Examples
    --------
    >>> check_value_range((-1, 1))
    (-1.0, 1.0)
    >>> check_value_range("auto")
    'auto'
    """
    if isinstance(value_range, str) and value_range == "auto":
        return "auto"
    try:
        if isinstance(value_range, (str, bytes)):
            raise TypeError
        lo, hi = value_range
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(
            f"value_range must be 'auto' or a pair (lo, hi) of numbers, got {value_range!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"value_range must be finite with lo < hi, got ({lo}, {hi})")
    return lo, hi


def check_percentiles(percentiles: Any) -> tuple[float, float]:
    """A ``(lo, hi)`` pair of percentiles with 0 <= lo < hi <= 100; else ValueError.

    Examples
    --------
    >>> check_percentiles([1, 99])
    (1.0, 99.0)
    """
    try:
        lo_q, hi_q = (float(v) for v in percentiles)
    except (TypeError, ValueError):
        lo_q = hi_q = math.nan
    if not 0 <= lo_q < hi_q <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= lo < hi <= 100, got {percentiles!r}")
    return lo_q, hi_q


def _check_count(name: str, value: Any) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class DescriptorConfig:
    """How descriptors are computed: grid, histogram range and the handling of outliers.

    Parameters
    ----------
    S, B
        Windows (rows) and histogram bins (columns).
    value_range
        ``"auto"`` (default, see the module docstring) or a fixed ``(lo, hi)``; the paper's
        is :data:`PAPER_VALUE_RANGE`.
    percentiles
        The percentiles of the ``"auto"`` range.
    clip
        Fold out-of-range weights into the edge bins instead of dropping them.
    nan_policy
        ``"raise"`` on NaN/Inf weights, or ``"omit"`` to leave them out.

    Examples
    --------
    >>> cfg = DescriptorConfig(S=8, B=8)
    >>> cfg.is_auto, cfg.with_range((-1, 1)).value_range
    (True, (-1.0, 1.0))
    >>> DescriptorConfig(value_range="wide")
    Traceback (most recent call last):
    ...
    ValueError: value_range must be 'auto' or a pair (lo, hi) of numbers, got 'wide'
    """

    S: int = 32
    B: int = 32
    value_range: ValueRange = DEFAULT_VALUE_RANGE
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES
    clip: bool = False
    nan_policy: NanPolicy = "raise"

    def __post_init__(self) -> None:
        # frozen: normalized values are written once, here.
        set_ = object.__setattr__
        set_(self, "S", _check_count("S", self.S))
        set_(self, "B", _check_count("B", self.B))
        set_(self, "value_range", check_value_range(self.value_range))
        set_(self, "percentiles", check_percentiles(self.percentiles))
        set_(self, "clip", bool(self.clip))
        if self.nan_policy not in ("raise", "omit"):
            raise ValueError(f"nan_policy must be 'raise' or 'omit', got {self.nan_policy!r}")

    @property
    def is_auto(self) -> bool:
        """Whether the value range still has to be resolved from the weights."""
        return self.value_range == "auto"

    @property
    def range(self) -> tuple[float, float]:
        """The resolved ``(lo, hi)``; a ValueError while it is still ``"auto"``."""
        if self.is_auto:
            raise ValueError("the value range is 'auto' and has not been resolved yet")
        return self.value_range  # type: ignore[return-value]

    def with_range(self, value_range: ValueRange) -> DescriptorConfig:
        """A copy with another value range (e.g. the resolved one)."""
        return replace(self, value_range=value_range)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields (tuples as lists)."""
        out = asdict(self)
        for key in ("value_range", "percentiles"):
            if isinstance(out[key], tuple):
                out[key] = list(out[key])
        return out
