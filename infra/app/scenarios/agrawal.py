"""The ``agrawal`` scenario's data: river's Agrawal generator (classification function 1) and its rule."""

from __future__ import annotations

from collections.abc import Mapping

from river.datasets import synth

LABELS = ("no", "yes")
NUMERIC = ("salary", "commission", "age", "car", "hvalue", "hyears", "loan")
CATEGORICAL = ("elevel", "zipcode")

Row = tuple[dict[str, float], dict[str, str]]


def rows(count: int, seed: int) -> list[tuple[Row, str]]:
    """``count`` labelled rows; categorical codes become attributes, the rest numeric features."""
    out = []
    for x, y in synth.Agrawal(classification_function=1, seed=seed).take(count):
        features = {name: float(x[name]) for name in NUMERIC}
        attributes = {name: str(int(x[name])) for name in CATEGORICAL}
        out.append(((features, attributes), LABELS[int(y)]))
    return out


def rule(features: Mapping[str, float], attributes: Mapping[str, str]) -> str:
    """The generator's own labelling rule, registered as the route's label function.

    >>> rule({"age": 65.0, "salary": 30000.0}, {}), rule({"age": 30.0, "salary": 30000.0}, {})
    ('yes', 'no')
    """
    age, salary = features["age"], features["salary"]
    if age < 40:
        inside = 50000 <= salary <= 100000
    elif age < 60:
        inside = 75000 <= salary <= 125000
    else:
        inside = 25000 <= salary <= 75000
    return LABELS[int(inside)]
