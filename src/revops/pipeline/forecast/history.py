"""One run's deal history: read once, replayed once, each win model fitted once.

A forecast run (the demo's, or the report's) backtests, forecasts every method and evaluates the
win model. Each of these read the same deal facts and replayed the same finished quarters week by
week from stage history, and the win model could be fitted twice on the very same training rows
(the held-out evaluation's training set is a backtest quarter's whenever its split date falls in
that quarter). A `History` is handed to each step instead of a global cache: it is tied to one
warehouse and operating model, lives as long as the caller keeps it, and every result from it is
what the step computed on its own before, to the bit (same frames, same rows in the same order,
same seeded fit). The replay itself stays in the warehouse (`replay.Replay`); the history holds
the deal facts, the replay's per-day counts and the win models' pool of training rows, none of
which grows with the company beyond one row per deal (or the pool's cap). The finished quarters
are replayed together and any set of them is read off that replay, so the methods (trained on
the quarters before today) share the backtest's pool rows and its last quarter's model. With
`workers` above one its fits run in worker processes (`revops.models.workers`), so the
backtest's quarters and the evaluation train side by side while the run goes on; only a caller
with the cores to itself asks for them (a standalone forecast command, not the demo, whose steps
already share the cores, nor the web). The fits are the same to the bit either way.

Keep a history only while the warehouse's deal tables do not change: it is a snapshot of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from revops.config.forecast import WinModelConfig
from revops.config.models import OperatingModel
from revops.models.workers import Workers
from revops.pipeline.forecast.data import ForecastData, load
from revops.pipeline.forecast.periods import Period
from revops.pipeline.forecast.replay import Replay, finished_quarters, replay
from revops.pipeline.forecast.win_model import Pending, WinModel, start_fit
from revops.warehouse import Warehouse


@dataclass
class History:
    """The forecast inputs of one warehouse under one operating model, computed on first use."""

    wh: Warehouse
    model: OperatingModel
    workers: int = 1  # fit in this many worker processes (`models.workers.usable()`); 1: here
    _data: ForecastData | None = field(default=None, init=False, repr=False)
    _replays: dict[tuple[Period, ...], Replay] = field(default_factory=dict, init=False)
    _roots: dict[tuple[Period, ...], tuple[Period, ...]] = field(default_factory=dict, init=False)
    _fits: dict[tuple[tuple[Period, ...], bytes, bytes], Pending] = field(
        default_factory=dict, init=False
    )
    _workers: Workers = field(init=False, repr=False)
    loads: int = field(default=0, init=False)  # how often the deal facts were read
    replays: int = field(default=0, init=False)  # how many point-in-time replays ran
    fits: int = field(default=0, init=False)  # how many win models were trained

    def __post_init__(self) -> None:
        self._workers = Workers(self.workers)

    def check(self, wh: Warehouse, model: OperatingModel) -> History:
        """This history, if it is of `wh` under `model` (a caller mixing them up gets an error
        rather than another warehouse's forecast)."""
        if wh is not self.wh or model is not self.model:
            raise ValueError("this forecast history belongs to another warehouse or model")
        return self

    @property
    def data(self) -> ForecastData:
        """The deal facts (`data.load`), read on first use."""
        if self._data is None:
            self._workers.start()  # they import their libraries while the history is read
            self._data = load(self.wh, self.model)
            self.loads += 1
        return self._data

    def replay(self, quarters: Sequence[Period]) -> Replay:
        """The weekly replay of `quarters` (`replay.Replay`, left in the warehouse). Finished
        quarters make one replay and any set of them is a subset of it (the methods train on
        the quarters before today, the backtest and the evaluation on all of them), sharing its
        counts and the win models' pool."""
        key = tuple(quarters)
        if key not in self._replays:
            every = tuple(finished_quarters(self.data, self.model))
            if key != every and set(key) <= set(every):
                self._replays[key] = self.replay(every).subset(key)
                self._roots[key] = every
            else:
                self._replays[key] = replay(self.wh, self.model, self.data, key)
                self.replays += 1
        return self._replays[key]

    def start_fit(
        self,
        past: Replay,
        x: pd.DataFrame,
        y: npt.NDArray[np.float64],
        rows: pd.DataFrame,
        cfg: WinModelConfig,
    ) -> Pending:
        """`win_model.start_fit` on rows of `past` in a worker process (when it has
        workers), once per training set.

        Pool rows of one replay (and of its subsets, which keep its index) are named by their
        index, so the same index (and labels) means the same features and the same order; the
        fit is seeded, hence the same model. A replay this history did not make is fitted afresh.
        """
        key = tuple(past.quarters)
        if self._replays.get(key) is not past or cfg is not self.model.forecast.win_model:
            self.fits += 1
            return start_fit(x, y, rows, cfg, self._workers.submit)
        index = rows.index.to_numpy(np.int64).tobytes()
        name = (self._roots.get(key, key), index, np.asarray(y, float).tobytes())
        if name not in self._fits:
            self._fits[name] = start_fit(x, y, rows, cfg, self._workers.submit)
            self.fits += 1
        return self._fits[name]

    def fit(
        self,
        past: Replay,
        x: pd.DataFrame,
        y: npt.NDArray[np.float64],
        rows: pd.DataFrame,
        cfg: WinModelConfig,
    ) -> WinModel:
        """`start_fit`, waited for."""
        return self.start_fit(past, x, y, rows, cfg)()
