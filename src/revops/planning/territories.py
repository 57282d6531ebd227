"""Balanced territory design as a mixed-integer program (OR-Tools), and the greedy baseline.

The problem: give every account in scope to a rep of its region (a hard constraint, and of its
segment too when `match_segment` is set) so that the reps' potential and workload sit close to
their group's mean, moving as few accounts away from their current owner as the balance needs.
Each region (or region × segment) is an independent problem and is solved on its own, with a
share of the time limit proportional to its accounts.

Why buckets: one Boolean per account × rep is ~30k variables for the demo's NA alone, and the
near-symmetric optima keep any solver busy proving what does not matter. Accounts of one
current owner and segment whose potentials lie within `bucket_tolerance` of each other are
interchangeable for the objective, so the model decides *how many* accounts of each bucket each
rep gets (one integer per bucket × rep, a few thousand per region). Moves are exact (a bucket
has one current owner); potential is exact up to the tolerance inside a bucket, and the
reported spreads are computed on the real accounts after they are dealt out, never on the
model's approximation. With `bucket_tolerance: 0` each distinct potential is its own bucket and
the model is exact.

How it is solved, and what the gap says: the LP relaxation (GLOP) gives a lower bound and
fractional counts; the MIP over their rounding neighbourhood gives a first design in well under a
second; when that design is further than `target_gap` from the bound, the full MIP (SCIP, one
thread, seeded) starts from it for the rest of the time limit. The workload cut (workloads are
whole units, see `_workload_floor`) lifts the bound a little. Measured on the demo (bench/
territories.py), the gap is NOT closed: 11–30 % relative, 1.2–1.8 % of a rep's mean potential in
absolute terms, because the LP bound knows nothing of integrality in the max-deviation terms and
branch and bound barely lifts it (60 s on one region moves the bound by 1 %). The status names
the gap per group, relative and absolute, so a reader can tell a proven design from a good one.

Objective, with potential and workload in units of the group's mean per rep:
    potential_weight × max|P_r − 1| + workload_weight × max|W_r − 1|
    + move_penalty / 100 × moved accounts
so `move_penalty` is the cost of one move in % of a rep's mean potential; `max_moves` caps the
moved share of each group's accounts (accounts whose owner is not a rep there always move).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from revops.config.planning import TerritoryConfig
from revops.errors import RevOpsError

if TYPE_CHECKING:
    from ortools.linear_solver import pywraplp


@dataclass(frozen=True)
class SpreadStats:
    """How evenly potential and workload are spread over reps."""

    max_min: float
    cv: float
    workload_max_min: float
    workload_cv: float


@dataclass(frozen=True)
class Design:
    """A territory proposal: one row per account, and the spread before and after."""

    assignments: pd.DataFrame  # account_id, region, segment, current_owner_id, owner_id, ...
    before: SpreadStats
    after: SpreadStats
    moved: int
    solve_seconds: float
    solver_status: str
    by_rep: pd.DataFrame = field(repr=False)  # user_id, region, before/after potential, workload
    # per group: the model's objective at the design and the proven lower bound on it
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)


def _cv(values: np.ndarray) -> float:
    mean = float(values.mean()) if len(values) else 0.0
    return float(values.std() / mean) if mean > 0 else 0.0


def _max_min(values: np.ndarray) -> float:
    if not len(values):
        return 1.0
    low = float(values.min())
    return float(values.max()) / low if low > 0 else math.inf


def rep_totals(assign: pd.DataFrame, reps: pd.DataFrame, owner_col: str) -> pd.DataFrame:
    """Potential, workload and accounts per rep (reps without accounts at 0)."""
    sums = assign.groupby(owner_col).agg(
        potential=("potential", "sum"),
        workload=("workload", "sum"),
        accounts=("account_id", "size"),
    )
    cols = [c for c in ("user_id", "region", "segment") if c in reps]
    out = reps[cols].set_index("user_id").join(sums)
    out[["potential", "workload", "accounts"]] = out[["potential", "workload", "accounts"]].fillna(
        0
    )
    return out.reset_index()


def spread(assign: pd.DataFrame, reps: pd.DataFrame, owner_col: str) -> SpreadStats:
    """Max/min and coefficient of variation of potential and workload across `reps`."""
    t = rep_totals(assign, reps, owner_col)
    p, w = t["potential"].to_numpy(float), t["workload"].to_numpy(float)
    return SpreadStats(_max_min(p), _cv(p), _max_min(w), _cv(w))


def _scope(
    accounts: pd.DataFrame, reps: pd.DataFrame, cfg: TerritoryConfig
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Accounts and reps that take part: accounts need a group that has at least one rep."""
    if reps.empty:
        raise RevOpsError("territory design: no active reps with a region in the given roles")
    keys = ["region", "segment"] if cfg.match_segment else ["region"]
    reps = reps.copy()
    for col in ("user_id", "region", "segment"):
        values = reps[col].astype(object) if col in reps else pd.Series(None, index=reps.index)
        reps[col] = values.where(values.notna(), None)
    if cfg.match_segment and reps["segment"].isna().any():
        missing = ", ".join(reps.loc[reps["segment"].isna(), "user_id"].astype(str))
        raise RevOpsError(
            f"match_segment needs a territory segment for every rep; none for {missing}"
        )
    rep_keys = reps[keys].drop_duplicates()
    acc = accounts.dropna(subset=keys).merge(rep_keys, on=keys, how="inner")
    return acc.reset_index(drop=True), reps.reset_index(drop=True), keys


def _buckets(acc: pd.DataFrame, tolerance: float, max_size: int) -> pd.Series:
    """Bucket number per account: same current owner and segment, potentials within tolerance."""
    order = acc.sort_values(
        ["current_owner_id", "segment", "potential", "account_id"],
        ascending=[True, True, False, True],
        na_position="last",
    )
    bucket = np.empty(len(acc), dtype=np.int64)
    current, top, size, prev_key = -1, 0.0, 0, None
    for idx, owner, seg, pot in zip(
        order.index, order["current_owner_id"], order["segment"], order["potential"], strict=True
    ):
        key = (owner, seg)
        if (
            key != prev_key
            or size >= max_size
            or pot < top / (1 + tolerance)
            or (tolerance == 0 and pot != top)
        ):
            current, top, size, prev_key = current + 1, float(pot), 0, key
        bucket[acc.index.get_loc(idx)] = current
        size += 1
    return pd.Series(bucket, index=acc.index)


_STATUS_NAMES = {0: "OPTIMAL", 1: "FEASIBLE", 2: "INFEASIBLE", 3: "UNBOUNDED", 6: "NOT_SOLVED"}


def _model(
    b: pd.DataFrame,
    n_rep: int,
    rep_index: dict[str, int],
    cfg: TerritoryConfig,
    total: int,
    backend: str,
    bounds: dict[tuple[int, int], tuple[int, int]] | None,
) -> tuple[pywraplp.Solver, dict[tuple[int, int], pywraplp.Variable]]:
    """The bucket model on `backend`; GLOP gives its LP relaxation, `bounds` restrict counts.

    Potential and workload are in units of the group's mean per rep, so the deviations are
    fractions of the mean and the weights compare like with like.
    """
    from ortools.linear_solver import pywraplp

    p_unit = max(float(b["potential"].sum()) / n_rep, 1e-9)
    w_unit = max(float(b["workload"].sum()) / n_rep, 1e-9)
    solver = pywraplp.Solver.CreateSolver(backend)
    if solver is None:
        raise RevOpsError(f"territory design: OR-Tools has no {backend} solver here")
    integer = backend != "GLOP"
    x: dict[tuple[int, int], pywraplp.Variable] = {}
    p_load: list[list[tuple[float, pywraplp.Variable]]] = [[] for _ in range(n_rep)]
    w_load: list[list[tuple[float, pywraplp.Variable]]] = [[] for _ in range(n_rep)]
    stays: list[pywraplp.Variable] = []
    for bi, row in zip(b.index.astype(int), b.to_dict("records"), strict=True):
        n = int(row["n"])
        pc = float(row["potential"]) / n / p_unit
        wc = float(row["workload"]) / n / w_unit
        owner = rep_index.get(row["owner"]) if isinstance(row["owner"], str) else None
        vars_b = []
        for ri in range(n_rep):
            lo, hi = bounds[(bi, ri)] if bounds is not None else (0, n)
            v = solver.Var(lo, hi, integer, f"x{bi}_{ri}")
            x[(bi, ri)] = v
            vars_b.append(v)
            p_load[ri].append((pc, v))
            w_load[ri].append((wc, v))
            if owner == ri:
                stays.append(v)
        solver.Add(solver.Sum(vars_b) == n)
    moved = total - solver.Sum(stays)
    forced = total - int(b.loc[b["owner"].map(lambda o: o in rep_index), "n"].sum())
    if cfg.max_moves is not None:
        solver.Add(moved <= max(forced, math.floor(cfg.max_moves * total)))
    dev_p = solver.NumVar(0, solver.infinity(), "dev_p")
    dev_w = solver.NumVar(_workload_floor(b, n_rep), solver.infinity(), "dev_w")
    for ri in range(n_rep):
        p_r = solver.Sum([c * v for c, v in p_load[ri]])
        w_r = solver.Sum([c * v for c, v in w_load[ri]])
        solver.Add(p_r - 1 <= dev_p)
        solver.Add(1 - p_r <= dev_p)
        solver.Add(w_r - 1 <= dev_w)
        solver.Add(1 - w_r <= dev_w)
    solver.Minimize(
        cfg.potential_weight * dev_p + cfg.workload_weight * dev_w + cfg.move_penalty / 100 * moved
    )
    return solver, x


def _workload_floor(b: pd.DataFrame, n_rep: int) -> float:
    """A valid lower bound on the workload deviation, from workloads being whole units.

    When every account's workload is a multiple of one unit g (the demo's efforts are 1, 2 and
    4), each rep's workload is a multiple of g too, so unless the mean is one, some rep sits at
    or above the next multiple and some at or below the previous one. The LP relaxation does
    not know this and would otherwise bound the workload deviation below what is reachable.
    """
    per = (b["workload"] / b["n"]).to_numpy(float)
    if not len(per) or not np.allclose(per, np.round(per)) or (np.round(per) <= 0).any():
        return 0.0
    g = float(np.gcd.reduce(np.round(per).astype(np.int64)))
    mean = float(b["workload"].sum()) / n_rep
    frac = mean / g - math.floor(mean / g)
    if frac < 1e-9 or frac > 1 - 1e-9:
        return 0.0
    return max(frac, 1 - frac) * g / mean


def _run(solver: pywraplp.Solver, backend: str, seed: int, seconds: float) -> int:
    """Solve on one thread with a fixed seed; the status code."""
    solver.SetTimeLimit(max(1, round(seconds * 1000)))
    solver.SetNumThreads(1)
    params = {"SCIP": f"randomization/randomseedshift = {seed}", "CP_SAT": f"random_seed:{seed}"}
    if backend in params and not solver.SetSolverSpecificParametersAsString(params[backend]):
        raise RevOpsError(f"territory design: {backend} refused its random seed")
    return int(solver.Solve())


def _solve_group(
    acc: pd.DataFrame, rep_ids: list[str], cfg: TerritoryConfig, time_limit: float
) -> tuple[pd.Series, str, float, float]:
    """Owner per account of one group, the solver status, objective value and lower bound.

    Two stages. The LP relaxation (GLOP) gives a lower bound on the model's optimum and
    fractional counts; a vertex splits only a few buckets between reps, so the MIP over the
    rounding neighbourhood (each count between the floor and the ceiling of its LP value) is
    small and solves in well under a second. When its value is within `target_gap` of the
    bound it is the design (and provably that close to the optimum); otherwise the full MIP
    runs from it as a hint for the rest of the time limit and the better of the two is kept.
    """
    from ortools.linear_solver import pywraplp

    started = time.perf_counter()
    acc = acc.copy()
    acc["bucket"] = _buckets(acc, cfg.bucket_tolerance, cfg.max_bucket_size)
    b = acc.groupby("bucket").agg(
        n=("account_id", "size"),
        potential=("potential", "sum"),
        workload=("workload", "sum"),
        owner=("current_owner_id", "first"),
    )
    rep_index = {r: i for i, r in enumerate(rep_ids)}
    args = (b, len(rep_ids), rep_index, cfg, len(acc))
    lp, lx = _model(*args, "GLOP", None)
    if lp.Solve() != pywraplp.Solver.OPTIMAL:
        raise RevOpsError(
            "territory design: no assignment meets the constraints (the LP relaxation is "
            "infeasible); raise max_moves"
        )
    bound = lp.Objective().Value()
    eps = 1e-6
    near = {
        k: (math.floor(v.solution_value() + eps), math.ceil(v.solution_value() - eps))
        for k, v in lx.items()
    }
    solver, x = _model(*args, cfg.solver, near)
    status = _run(solver, cfg.solver, cfg.seed, time_limit)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        raise RevOpsError(
            f"territory design: rounding the LP found no assignment "
            f"({_STATUS_NAMES.get(status, status)}); raise time_limit_seconds"
        )
    value = solver.Objective().Value()
    counts = {k: round(v.solution_value()) for k, v in x.items()}
    stage = "LP rounding"
    left = time_limit - (time.perf_counter() - started)
    if _gap(value, bound) > cfg.target_gap and left > 0.5:
        full, fx = _model(*args, cfg.solver, None)
        keys = sorted(fx)
        full.SetHint([fx[k] for k in keys], [float(counts[k]) for k in keys])
        got = _run(full, cfg.solver, cfg.seed, left)
        if got in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            bound = max(bound, full.Objective().BestBound())
            if full.Objective().Value() < value - 1e-12:
                value = full.Objective().Value()
                counts = {k: round(v.solution_value()) for k, v in fx.items()}
                stage = "full MIP"
    gap = _gap(value, bound)
    name = "OPTIMAL" if gap <= 1e-9 else ("WITHIN TARGET" if gap <= cfg.target_gap else "FEASIBLE")
    # the gap is relative to the objective, a deviation from perfect balance plus the move
    # penalty, so near 0 a tiny absolute gap is a large share: the absolute gap is given too,
    # in the objective's unit (a rep's mean potential), with the figures
    name += (
        f" gap {gap:.1%}, {value - bound:.2%} of a rep's mean"
        f" ({value:.5f} vs bound {bound:.5f}, {stage})"
    )
    return _deal(acc, counts, rep_ids), name, value, bound


def _gap(value: float, bound: float) -> float:
    """Relative optimality gap, 0 when the value is (numerically) at the bound."""
    return max(0.0, (value - bound) / value) if value > 1e-12 else 0.0


def _deal(acc: pd.DataFrame, counts: dict[tuple[int, int], int], rep_ids: list[str]) -> pd.Series:
    """Hand each bucket's accounts to reps by the solved counts, alternating in potential order.

    The current owner keeps its own share first so that no account moves needlessly; the rest are
    dealt round-robin over reps with counts left, which spreads the bucket's small differences.
    """
    owner = pd.Series(index=acc.index, dtype=object)
    ordered = acc.sort_values(["potential", "account_id"], ascending=[False, True])
    for bi, members in ordered.groupby(ordered["bucket"].astype(int), sort=True):
        left = {ri: counts.get((int(str(bi)), ri), 0) for ri in range(len(rep_ids))}
        cur = members["current_owner_id"].iloc[0]
        idx = list(members.index)
        if isinstance(cur, str) and cur in rep_ids:
            keep = left[rep_ids.index(cur)]
            # the owner keeps an evenly spaced subset so its share matches the bucket average
            picks = set(np.linspace(0, len(idx) - 1, keep).round().astype(int)) if keep else set()
            for k in sorted(picks):
                owner[idx[k]] = cur
            left[rep_ids.index(cur)] = 0
            idx = [i for k, i in enumerate(idx) if k not in picks]
        ring = [ri for ri in range(len(rep_ids)) if left[ri] > 0]
        pos = 0
        for i in idx:
            while left[ring[pos % len(ring)]] == 0:
                pos += 1
            ri = ring[pos % len(ring)]
            owner[i] = rep_ids[ri]
            left[ri] -= 1
            pos += 1
    return owner


def _frame(accounts: pd.DataFrame) -> pd.DataFrame:
    """The columns design needs, strings as plain objects with None for missing (not pd.NA)."""
    out = accounts.rename(columns={"owner_id": "current_owner_id"})
    out = out[["account_id", "region", "segment", "current_owner_id", "potential", "workload"]]
    out = out.copy()
    for col in ("account_id", "region", "segment", "current_owner_id"):
        values = out[col].astype(object)
        out[col] = values.where(values.notna(), None)
    out["potential"] = out["potential"].astype(float).fillna(0.0)
    out["workload"] = out["workload"].astype(float).fillna(0.0)
    return out


def _finish(
    acc: pd.DataFrame, reps: pd.DataFrame, owners: pd.Series, seconds: float, status: str
) -> Design:
    acc = acc.assign(owner_id=owners.astype(str))
    acc["moved"] = acc["owner_id"] != acc["current_owner_id"]
    before = rep_totals(acc, reps, "current_owner_id")
    after = rep_totals(acc, reps, "owner_id")
    keys = [c for c in ("user_id", "region", "segment") if c in before]
    by_rep = before.merge(after, on=keys, suffixes=("_before", "_after"))
    return Design(
        assignments=acc.reset_index(drop=True),
        before=spread(acc, reps, "current_owner_id"),
        after=spread(acc, reps, "owner_id"),
        moved=int(acc["moved"].sum()),
        solve_seconds=seconds,
        solver_status=status,
        by_rep=by_rep,
    )


def design_territories(accounts: pd.DataFrame, reps: pd.DataFrame, cfg: TerritoryConfig) -> Design:
    """Solve the balanced assignment for every group (region, or region × segment).

    `accounts`: account_id, region, segment, owner_id, potential, workload (see potential.py).
    `reps`: user_id, region, segment (the segment of the rep's territory, may be null).
    The time limit is shared between groups in proportion to their accounts.
    """
    acc, reps, keys = _scope(_frame(accounts), reps, cfg)
    started = time.perf_counter()
    owners = pd.Series(index=acc.index, dtype=object)
    statuses = []
    bounds: dict[str, tuple[float, float]] = {}
    for key, members in acc.groupby(keys, sort=True):
        key_t = key if isinstance(key, tuple) else (key,)
        mask = np.ones(len(reps), dtype=bool)
        for k, v in zip(keys, key_t, strict=True):
            mask &= (reps[k] == v).to_numpy()
        rep_ids = sorted(reps.loc[mask, "user_id"].astype(str))
        limit = max(1.0, cfg.time_limit_seconds * len(members) / max(1, len(acc)))
        got, status, value, bound = _solve_group(members, rep_ids, cfg, limit)
        owners.loc[got.index] = got
        name = "/".join(map(str, key_t))
        statuses.append(f"{name}:{status}")
        bounds[name] = (value, bound)
    seconds = time.perf_counter() - started
    design = _finish(acc, reps, owners, seconds, ", ".join(statuses))
    return replace(design, bounds=bounds)


def greedy_design(accounts: pd.DataFrame, reps: pd.DataFrame, cfg: TerritoryConfig) -> Design:
    """Baseline: largest potential first, each to the least-loaded rep of its group.

    The textbook heuristic (LPT scheduling): fast and well balanced on potential, but blind to
    current owners (nearly every account moves) and to workload.
    """
    acc, reps, keys = _scope(_frame(accounts), reps, cfg)
    started = time.perf_counter()
    owners = pd.Series(index=acc.index, dtype=object)
    for key, members in acc.groupby(keys, sort=True):
        key_t = key if isinstance(key, tuple) else (key,)
        mask = np.ones(len(reps), dtype=bool)
        for k, v in zip(keys, key_t, strict=True):
            mask &= (reps[k] == v).to_numpy()
        load = dict.fromkeys(sorted(reps.loc[mask, "user_id"].astype(str)), 0.0)
        ranked = members["potential"].sort_values(ascending=False, kind="stable")
        for i, pot in zip(ranked.index, ranked.to_numpy(float), strict=True):
            rep = min(load, key=lambda r: (load[r], r))
            owners.at[i] = rep
            load[rep] += float(pot)
    return _finish(acc, reps, owners, time.perf_counter() - started, "greedy")
