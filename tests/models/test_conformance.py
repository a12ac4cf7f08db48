"""The model conformance suite runs over every model of quantlab.models."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import quantlab.models as models
from quantlab.models.base import BaseModel
from quantlab.models.conformance import CASES, CHECKS, ConformanceError, ModelCase, check
from quantlab.models.hedge import Hedge


def _exported_models() -> list[str]:
    return sorted(
        name
        for name in models.__all__
        if inspect.isclass(getattr(models, name)) and issubclass(getattr(models, name), BaseModel)
    )


def test_every_model_class_is_on_the_base_and_has_a_case():
    exported = _exported_models()
    assert len(exported) >= 9, exported
    assert sorted(CASES) == exported


@pytest.mark.parametrize("check_name", list(CHECKS))
@pytest.mark.parametrize("model", sorted(CASES))
def test_model_conformance(model, check_name):
    check(model, checks=[check_name])


class _Peeking(Hedge):
    """Hedge that uses the *current* loss before it is revealed: look-ahead."""

    def filter(self, losses):
        out = super().filter(losses)
        arr = np.asarray(losses, dtype=float)
        return out * np.exp(-np.nan_to_num(arr[::-1].cumsum(axis=0)[::-1]) * 1e-3)


class _Drifting(Hedge):
    """Hedge whose live step drifts away from the batch result."""

    def update(self, loss_vector):
        return super().update(loss_vector) + 1e-9


def _case(make):
    return ModelCase("test_model", make=make, data=CASES["Hedge"].data, offset=1, prefix_cuts=(50,))


def test_the_checks_catch_broken_models():
    with pytest.raises(ConformanceError, match="'test_model' fails check 'prefix'"):
        check(_case(lambda: _Peeking(0.3)), checks=["prefix"])
    with pytest.raises(ConformanceError, match="fails check 'streaming': update at step 0"):
        check(_case(lambda: _Drifting(0.3)), checks=["streaming"])
    with pytest.raises(ConformanceError, match="does not derive from BaseModel"):
        check(_case(lambda: object()), checks=["contract"])
    bad = ModelCase(
        "test_model",
        make=lambda: Hedge(0.3),
        data=CASES["Hedge"].data,
        bad_data=((np.zeros((3, 2)),),),  # valid losses: nothing to raise
    )
    with pytest.raises(ConformanceError, match=r"filter\(ndarray\(3, 2\)\) raised nothing"):
        check(bad, checks=["bad_input"])
    with pytest.raises(ConformanceError, match="unknown checks"):
        check("Hedge", checks=["nope"])
    with pytest.raises(ConformanceError, match="no conformance case 'Nope'"):
        check("Nope")
