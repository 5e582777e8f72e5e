"""The fitted linear head of the spectrum, DCT and probe detectors as plain arrays.

Those detectors end in a scikit-learn pipeline of ``StandardScaler`` and a binary
``LogisticRegression``. Everything ``predict_proba`` needs is five arrays: the scaler's means and
scales, the model's coefficients, intercept and classes. They are saved as numbers, never as a
pickled estimator, and restored into a fresh, unfitted pipeline of the same two steps.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

KEYS = ("scaler.mean", "scaler.scale", "logistic.coef", "logistic.intercept", "logistic.classes")


def _steps(pipeline: Pipeline) -> tuple[StandardScaler, LogisticRegression]:
    scaler, model = pipeline[0], pipeline[-1]
    if len(pipeline) != 2 or not isinstance(scaler, StandardScaler) or not isinstance(model, LogisticRegression):
        raise ValueError("expected a pipeline of StandardScaler and LogisticRegression")
    return scaler, model


def pipeline_state(pipeline: Pipeline) -> dict[str, np.ndarray]:
    """The five arrays of a fitted scaler + logistic-regression pipeline."""
    scaler, model = _steps(pipeline)
    if not hasattr(model, "coef_"):
        raise ValueError("the linear head is not fitted yet")
    return {"scaler.mean": scaler.mean_, "scaler.scale": scaler.scale_, "logistic.coef": model.coef_,
            "logistic.intercept": model.intercept_, "logistic.classes": model.classes_}


def load_pipeline_state(pipeline: Pipeline, state: dict[str, np.ndarray]) -> None:
    """Restore :func:`pipeline_state`'s arrays into ``pipeline``; a missing array or a wrong shape is a ValueError."""
    scaler, model = _steps(pipeline)
    missing = [k for k in KEYS if k not in state]
    if missing:
        raise ValueError(f"missing arrays {', '.join(missing)}")
    mean, scale, coef, intercept, classes = (np.asarray(state[k], dtype=np.float64) for k in KEYS)
    width = mean.shape[0] if mean.ndim == 1 else -1
    shapes = {"scaler.mean": (mean.shape, (width,)), "scaler.scale": (scale.shape, (width,)),
              "logistic.coef": (coef.shape, (1, width)), "logistic.intercept": (intercept.shape, (1,)),
              "logistic.classes": (classes.shape, (2,))}
    wrong = [f"{k} {got} (expected {want})" for k, (got, want) in shapes.items() if got != want or width < 1]
    if wrong:
        raise ValueError(f"wrong shapes: {'; '.join(wrong)}")
    if not np.array_equal(classes, [0.0, 1.0]) or not np.all(np.isfinite(coef)) or not np.all(scale > 0):
        raise ValueError("classes must be [0, 1], coefficients finite and scales positive")
    scaler.mean_, scaler.scale_, scaler.var_ = mean, scale, scale**2
    scaler.n_features_in_, scaler.n_samples_seen_ = width, 0
    model.coef_, model.intercept_, model.classes_ = coef, intercept, classes
    model.n_features_in_, model.n_iter_ = width, np.zeros(1, dtype=np.int32)
