"""What the user knows about the study: its metric, direction, model family, steps and trials.

These *study descriptors* are features of the meta-learner like a dataset's
qualities: the same rule prunes a boosted model's log loss differently from an
MLP's accuracy. :class:`StudyDescriptors` turns what a user says into the
learner's feature names:

=========================  =================================================================
``direction_minimize``      1 when the metric is minimised (``direction_maximize`` its mirror)
``metric_loss``             1 for a loss (log loss, MSE, MAE, ...), 0 for a score (accuracy, AUC, R2)
``family_<name>``           one-hot over :data:`FAMILIES`; free text is mapped by :func:`family_of`
``curve_steps``             steps (epochs, boosting rounds, anchors) a trial reports
``study_trials``            trials the study runs
=========================  =================================================================

A descriptor the user did not give is *missing*: it is left out of the features
(the learner treats it as unknown) and :meth:`StudyDescriptors.missing` names
it, so the recommendation can say so instead of guessing. The family ``other``
(free text matching no known family) sets every ``family_<name>`` to 0: a
family the corpus never saw, which the safety floor treats as out of
distribution.

>>> d = StudyDescriptors(metric="log_loss", family="LightGBM", steps=100)
>>> d.direction, d.metric_kind, d.family
('minimize', 'loss', 'lightgbm')
>>> f = d.features()
>>> f["direction_minimize"], f["metric_loss"], f["family_lightgbm"], f["family_mlp"], f["curve_steps"]
(1.0, 1.0, 1.0, 0.0, 100.0)
>>> d.missing()
['trials']
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from policy_store.errors import InvalidInputError

#: Model families the corpora know (LCDB's 20 learners together are ``lcdb``); anything else is ``other``.
FAMILIES: tuple[str, ...] = ("forest", "hgb", "lcdb", "lightgbm", "mlp", "sgd", "xgboost")
OTHER = "other"
# Free text -> family: the first pattern that matches the lower-cased name wins.
_FAMILY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("lightgbm", r"lightgbm|\blgbm?\b|lgbm"),
    ("xgboost", r"xgb"),
    ("hgb", r"hist|\bhgb\b|gradient.?boost|\bgbm?\b|catboost"),
    ("forest", r"forest|\brf\b|extra.?trees?"),
    ("mlp", r"mlp|neural|perceptron|torch|keras|\bnn\b|dnn|cnn|transformer"),
    ("sgd", r"sgd|logistic|linear|ridge|lasso|elastic|svm"),
    ("lcdb", r"^lcdb$"),
)
#: Metric names -> kind (``loss`` is minimised, ``score`` maximised).
METRIC_KINDS: dict[str, str] = {
    "accuracy": "score", "balanced_accuracy": "score", "auc": "score", "roc_auc": "score", "f1": "score",
    "r2": "score", "precision": "score", "recall": "score", "ndcg": "score", "map": "score",
    "log_loss": "loss", "logloss": "loss", "cross_entropy": "loss", "mse": "loss", "rmse": "loss", "mae": "loss",
    "error": "loss", "error_rate": "loss", "loss": "loss", "perplexity": "loss", "brier": "loss",
}
DIRECTION_OF_KIND = {"loss": "minimize", "score": "maximize"}


def family_of(text: str | None) -> str | None:
    """The known family free text names, ``"other"`` when none matches, None when not given.

    >>> family_of("HistGradientBoostingClassifier"), family_of("xgb"), family_of("KNN"), family_of(None)
    ('hgb', 'xgboost', 'other', None)
    """
    if text is None or not str(text).strip():
        return None
    name = str(text).strip().lower()
    if name in FAMILIES:
        return name
    for family, pattern in _FAMILY_PATTERNS:
        if re.search(pattern, name):
            return family
    return OTHER


def metric_kind_of(metric: str | None) -> str | None:
    """``"loss"`` or ``"score"`` for a known metric name (case and ``-``/space insensitive), else None.

    >>> metric_kind_of("Log-Loss"), metric_kind_of("val_accuracy"), metric_kind_of("custom")
    ('loss', 'score', None)
    """
    if metric is None:
        return None
    name = re.sub(r"[\s\-]+", "_", str(metric).strip().lower())
    if name in METRIC_KINDS:
        return METRIC_KINDS[name]
    for known in sorted(METRIC_KINDS, key=len, reverse=True):   # val_accuracy, test_mse, neg_log_loss ...
        if re.search(rf"(^|_){re.escape(known)}($|_)", name):
            return METRIC_KINDS[known]
    return None


@dataclass
class StudyDescriptors:
    """What the user knows about a study (see the module docstring); every field optional.

    ``direction`` and ``metric_kind`` fill each other in (a loss is minimised);
    given both, they must agree. ``family`` is free text, mapped by :func:`family_of`.
    """

    metric: str | None = None
    metric_kind: str | None = None
    direction: str | None = None
    family: str | None = None
    steps: float | None = None
    trials: float | None = None

    def __post_init__(self) -> None:
        if self.direction is not None and self.direction not in ("maximize", "minimize"):
            raise InvalidInputError(f"direction must be 'maximize' or 'minimize', got {self.direction!r}",
                                    field="direction")
        if self.metric_kind is not None and self.metric_kind not in DIRECTION_OF_KIND:
            raise InvalidInputError(f"metric kind must be 'loss' or 'score', got {self.metric_kind!r}",
                                    field="metric_kind")
        self.metric_kind = self.metric_kind or metric_kind_of(self.metric)
        if self.metric_kind is None and self.direction is not None:
            self.metric_kind = "loss" if self.direction == "minimize" else "score"
        implied = DIRECTION_OF_KIND.get(self.metric_kind) if self.metric_kind else None
        if self.direction is None:
            self.direction = implied
        elif implied is not None and implied != self.direction:
            raise InvalidInputError(f"a {self.metric_kind} ({self.metric or 'metric'}) is "
                                    f"{implied}d, but direction is {self.direction!r}", field="direction")
        self.family = family_of(self.family)
        for name in ("steps", "trials"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 1:
                    raise InvalidInputError(f"{name} must be a number >= 1, got {value!r}", field=name)
                setattr(self, name, float(value))

    def features(self) -> dict[str, float]:
        """The learner's features these descriptors set (missing ones left out)."""
        out: dict[str, float] = {}
        if self.direction is not None:
            out["direction_minimize"] = float(self.direction == "minimize")
            out["direction_maximize"] = float(self.direction == "maximize")
        if self.metric_kind is not None:
            out["metric_loss"] = float(self.metric_kind == "loss")
        if self.family is not None:
            out.update({f"family_{f}": float(f == self.family) for f in FAMILIES})
        if self.steps is not None:
            out["curve_steps"] = self.steps
        if self.trials is not None:
            out["study_trials"] = self.trials
        return out

    def missing(self) -> list[str]:
        """The descriptors not given (or not implied by another one)."""
        given = {"direction": self.direction, "metric kind": self.metric_kind, "family": self.family,
                 "steps": self.steps, "trials": self.trials}
        return [k for k, v in given.items() if v is None]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
