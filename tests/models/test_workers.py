"""A fit run in a worker process is the fit run here: the same model, the same predictions to
the bit; a fit that fails there fails here with the same error; one core means no workers."""

from __future__ import annotations

import numpy as np
import pytest

from revops.models.workers import Workers, calibrated_trees, here


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    x[:, 3] = rng.integers(0, 3, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] - 0.5 * x[:, 1])))).astype(float)
    return x, y


def test_worker_fits_predict_what_fits_here_predict() -> None:
    categorical = [False, False, False, True]
    sets = [_data(600, seed) for seed in (1, 2, 3)]
    workers = Workers(max_workers=2)
    try:
        futures = [
            workers.submit(calibrated_trees, x, y, categorical, 7, "isotonic") for x, y in sets
        ]
        remote = [f.result() for f in futures]
    finally:
        workers.close()
    probe = _data(200, 9)[0]
    for (x, y), model in zip(sets, remote, strict=True):
        local = here(calibrated_trees, x, y, categorical, 7, "isotonic").result()
        assert np.array_equal(model.predict_proba(probe), local.predict_proba(probe))


def test_a_failure_in_a_worker_is_raised_to_the_caller() -> None:
    x, y = _data(50, 1)
    workers = Workers(max_workers=2)
    try:
        future = workers.submit(calibrated_trees, x, y, [False] * 4, 7, "no such method")
        with pytest.raises(ValueError, match="method"):
            future.result()
    finally:
        workers.close()


def test_one_core_fits_in_the_caller() -> None:
    x, y = _data(300, 4)
    workers = Workers(max_workers=1)
    future = workers.submit(calibrated_trees, x, y, [False, False, False, True], 7, "isotonic")
    assert future.done()
    assert future.result().predict_proba(x).shape == (300, 2)
