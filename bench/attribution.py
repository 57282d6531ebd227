"""Benchmark: Markov and Shapley attribution, revops (exact) against ChannelAttribution.

Data: 1,000,000 distinct channel paths over 8 channels carrying about 5,000,000 users (each path
has total_conversions + total_null users), the input ChannelAttribution takes. Each fit runs in
its own subprocess; peak memory is the process's high-water mark during the fit (VmHWM, reset
just before it through /proc/self/clear_refs), so loading the data is not counted for either.

1. Markov order 1 and order 3: revops exact (sparse LU) vs ChannelAttribution (simulation,
   default settings: nsim_start=1e5, one core).
2. Shapley at 8 and 12 channels (exact subset-sum transform).
3. Agreement on 10,000 journeys: revops' exact per-channel credits against the mean and range of
   ChannelAttribution over 10 independent seeds at nsim_start=1e6 (max_step=100, see
   tests/attribution/test_channelattribution.py for why).

Usage: python bench/attribution.py [--paths 1000000] [--skip-agreement]

`--check` (CI, a few seconds): on 2,000 journeys over 6 channels, revops' exact first-order
Markov credits must lie within 3% of ChannelAttribution's mean over 3 seeds, and Markov and
exact Shapley credits must each sum to the conversions (efficiency); exit 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATA = Path("/tmp/revops_bench_attribution")


def make_paths(n: int, channels: int, seed: int) -> pd.DataFrame:
    """`n` distinct paths; users per path ~ 1 + Poisson(4); conversion odds rise with channel 0."""
    rng = np.random.default_rng(seed)
    names = np.array([f"ch{i:02d}" for i in range(channels)])
    weights = np.linspace(2.0, 1.0, channels)
    weights /= weights.sum()
    seen: set[str] = set()
    paths: list[str] = []
    while len(paths) < n:
        m = n - len(paths)
        lengths = rng.geometric(0.22, int(m * 1.3)).clip(1, 14)
        flat = rng.choice(len(names), int(lengths.sum()), p=weights)
        cuts = np.cumsum(lengths)[:-1]
        for p in np.split(flat, cuts):
            s = " > ".join(names[p])
            if s not in seen:
                seen.add(s)
                paths.append(s)
                if len(paths) == n:
                    break
    users = 1 + rng.poisson(4.0, n)
    has0 = np.array([" ch00" in " " + p for p in paths])
    p_conv = np.where(has0, 0.08, 0.04)
    conv = rng.binomial(users, p_conv)
    value = conv * rng.uniform(50, 150, n)
    return pd.DataFrame({"path": paths, "conv": conv, "null": users - conv, "value": value})


def _reset_peak() -> int:
    Path("/proc/self/clear_refs").write_text("5")
    return _hwm()


def _hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
    return 0


def one(kind: str, order: int, file: str) -> dict[str, Any]:
    """One fit in this process: seconds and peak memory above the loaded data."""
    df = pd.read_parquet(file)
    from revops.attribution import Paths, markov, shapley

    with contextlib.redirect_stdout(io.StringIO()):
        import ChannelAttribution as ca
    before = _reset_peak()
    t = time.perf_counter()
    if kind == "revops-markov":
        paths = Paths.from_strings(df["path"], df["conv"], df["null"], df["value"])
        res = markov(paths, order)
        out = dict(zip(res.channels, res.conversions.tolist(), strict=True))
    elif kind == "revops-shapley":
        paths = Paths.from_strings(df["path"], df["conv"], df["null"], df["value"])
        sh = shapley(paths, exact_max=16)
        out = dict(zip(sh.channels, sh.conversions.tolist(), strict=True))
    else:
        r = ca.markov_model(
            df,
            "path",
            "conv",
            var_value="value",
            var_null="null",
            order=order,
            verbose=False,
            flg_pro=False,
        )
        out = dict(zip(r["channel_name"], r["total_conversions"], strict=True))
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "peak_mb": (_hwm() - before) / 2**20, "credits": out}


def run_child(kind: str, order: int, file: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", kind, "--order", str(order), "--file", str(file)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def agreement(n: int = 10_000) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        import ChannelAttribution as ca
    from revops.attribution import Paths, markov

    df = make_paths(n, 8, seed=3)
    for order in (1, 3):
        ours = markov(Paths.from_strings(df["path"], df["conv"], df["null"]), order)
        runs = []
        t = time.perf_counter()
        for seed in range(10):
            with contextlib.redirect_stdout(io.StringIO()):
                r = ca.markov_model(
                    df,
                    "path",
                    "conv",
                    var_null="null",
                    order=order,
                    nsim_start=1e6,
                    max_step=100,
                    seed=100 * seed,
                    verbose=False,
                    flg_pro=False,
                )
            runs.append(r.set_index("channel_name")["total_conversions"])
        sims = pd.concat(runs, axis=1)
        worst, inside = 0.0, True
        for ch, exact in zip(ours.channels, ours.conversions, strict=True):
            worst = max(worst, abs(exact - sims.loc[ch].mean()) / sims.loc[ch].mean())
            inside &= bool(sims.loc[ch].min() <= exact <= sims.loc[ch].max())
        spread = ((sims.max(axis=1) - sims.min(axis=1)) / sims.mean(axis=1)).max()
        print(
            f"agreement, {n:,} journeys, order {order}: max |exact - mean of 10 seeds| = "
            f"{worst:.3%}; inside the seeds' range for every channel: {inside}; seed spread up "
            f"to {spread:.2%} ({time.perf_counter() - t:.0f} s for the 10 simulations)"
        )


def check() -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        import ChannelAttribution as ca
    from revops.attribution import Paths, markov, shapley

    df = make_paths(2_000, 6, seed=5)
    paths = Paths.from_strings(df["path"], df["conv"], df["null"])
    ours = markov(paths, 1)
    runs = []
    for seed in range(3):
        with contextlib.redirect_stdout(io.StringIO()):
            r = ca.markov_model(
                df, "path", "conv", var_null="null", order=1, nsim_start=3e5, max_step=100,
                seed=100 * seed, verbose=False, flg_pro=False,
            )  # fmt: skip
        runs.append(r.set_index("channel_name")["total_conversions"])
    sims = pd.concat(runs, axis=1).mean(axis=1)
    total = float(df["conv"].sum())
    worst = max(
        abs(exact - sims.loc[ch]) / sims.loc[ch]
        for ch, exact in zip(ours.channels, ours.conversions, strict=True)
    )
    sh = shapley(paths, exact_max=16)
    failures = []
    if worst > 0.03:
        failures.append(f"Markov differs from ChannelAttribution by {worst:.2%} (> 3%)")
    for name, credits in (("Markov", ours.conversions), ("Shapley", sh.conversions)):
        if abs(float(credits.sum()) - total) > 1e-6 * total:
            failures.append(f"{name} credits sum to {credits.sum():.6f}, not {total:.0f}")
    if failures:
        sys.exit("check failed: " + "; ".join(failures))
    print(
        f"check passed: Markov within {worst:.2%} of ChannelAttribution; credits sum to {total:.0f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="Tiny agreement check (CI).")
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--skip-agreement", action="store_true")
    ap.add_argument("--one")
    ap.add_argument("--order", type=int, default=1)
    ap.add_argument("--file")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.order, args.file)))
        return
    if args.check:
        check()
        return
    DATA.mkdir(exist_ok=True)
    t = time.perf_counter()
    files = {}
    for channels in (8, 12):
        df = make_paths(args.paths, channels, seed=channels)
        files[channels] = DATA / f"paths_{channels}.parquet"
        df.to_parquet(files[channels])
        print(
            f"{channels} channels: {len(df):,} distinct paths, "
            f"{int((df['conv'] + df['null']).sum()):,} users, {int(df['conv'].sum()):,} "
            f"conversions (generated in {time.perf_counter() - t:.0f} s)"
        )
    for order in (1, 3):
        r = run_child("revops-markov", order, files[8])
        c = run_child("channelattribution", order, files[8])
        diff = max(abs(r["credits"][k] - c["credits"][k]) / c["credits"][k] for k in c["credits"])
        print(
            f"Markov order {order}: revops exact {r['seconds']:.2f} s, {r['peak_mb']:.0f} MB | "
            f"ChannelAttribution {c['seconds']:.2f} s, {c['peak_mb']:.0f} MB | "
            f"max per-channel difference {diff:.2%}"
        )
    for channels in (8, 12):
        s = run_child("revops-shapley", 1, files[channels])
        print(f"Shapley, {channels} channels (exact): {s['seconds']:.2f} s, {s['peak_mb']:.0f} MB")
    if not args.skip_agreement:
        agreement()


if __name__ == "__main__":
    main()
