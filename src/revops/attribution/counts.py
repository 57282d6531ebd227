"""What the data-driven models read, counted in the warehouse: the Markov chain's transitions and
the Shapley game's conversions per channel set.

Both models were fitted on the distinct channel paths of every journey (`path_counts`), but
long journeys are mostly unique, so the paths grow with the company (47k distinct paths at the
demo's scale, 136k at three times it) while neither model needs a path: the chain reads how
many journeys moved from each state to the next and how many ended in each state, converted or
not; the Shapley game reads the conversions per set of channels. The warehouse counts those,
and Python receives rows in the number of states squared and of channel sets, whatever the
number of journeys. They are the very counts `build_chain` and `Paths.channel_masks` take from
the paths (whole numbers, so equal to the bit), and so give the same removal effects and
Shapley values; only the conversion value is summed in another order (to about 1e-15).

Channels are numbered as the paths numbered them: in the order they first appear across the
journeys sorted by conversion_id (each journey's touches in `pos` order), which fixes the Markov
states' order and so the chain's exact floating-point solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from revops.attribution.journeys import WHOLE, Bucket, Inputs, _lookback_touches
from revops.config.attribution import AttributionConfig, ConversionType
from revops.warehouse import Warehouse
from revops.warehouse.sums import EXACT

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
START = -1  # the code of the chain's start state in `FitCounts.src`
# DuckDB holds each journey's touches while it windows them (the moves), about 140 bytes a
# touch (its journey as an integer, its channel as one byte): at 10x demo scale (4.9M touches
# in the lookback) one or two buckets held +230 MB of the step's peak, the step's largest
# phase. Counted in buckets of entities (journeys.in_bucket), one query per bucket holds that
# bucket's share. Until 2026-12-06 a bucket was the journeys whose conversion_id hashed to it,
# filtered after the join, so every bucket's query joined and grouped every touchpoint again
# (five buckets at 10x: 38 s of CPU against 23.5); the entity's hash now filters the
# touchpoints as they are scanned, so a bucket reads, joins and windows only its own. At 10x,
# 6 buckets of 1M: the moves' phase +41 MB over the memory it started with (2 buckets: +229),
# DuckDB's peak in it 210 MB (352), the counts' CPU 10.2 s (11.1). One bucket up to 1x.
TOUCHPOINTS_PER_BUCKET = 1_000_000


@dataclass(frozen=True)
class FitCounts:
    """Counts of every journey (converted or not) for one conversion type.

    Windows (the order-k chain's states) are coded as in `markov._window_codes`: k channel
    codes in base `len(channels) + 1`, the extra digit padding a journey shorter than k.
    """

    channels: tuple[str, ...]
    order: int
    src: IntArray  # the window code each transition leaves (START: the journey's start)
    dst: IntArray  # the window code it enters (repeats of one window collapsed)
    moves: FloatArray  # journeys making it
    end: IntArray  # a journey's last window code
    end_conversions: FloatArray  # journeys ending there that converted
    end_nulls: FloatArray  # that did not
    end_value: FloatArray  # revenue of the converted ones
    masks: IntArray  # distinct channel sets (bit c: channels[c]), ascending
    mask_conversions: FloatArray  # converted journeys with exactly that set
    mask_value: FloatArray  # their revenue

    @property
    def conversions(self) -> float:
        return float(self.end_conversions.sum())

    @property
    def nulls(self) -> float:
        return float(self.end_nulls.sum())

    @property
    def value(self) -> float:
        return float(self.mask_value.sum())


def channels_expr(inp: Inputs, conversion: ConversionType, cfg: AttributionConfig) -> ir.Table:
    """Each channel with the first journey (smallest conversion_id) it appears in."""
    j = _lookback_touches(inp, conversion, cfg, converted_only=False, detail=False)
    return j.group_by("channel").aggregate(first=j.conversion_id.min())


def first_touches_expr(
    inp: Inputs, conversion: ConversionType, cfg: AttributionConfig, firsts: dict[str, str]
) -> ir.Table:
    """The channels of `firsts` (channel -> its first journey, `channels_expr`) in the order of
    their first touch in it, journeys by conversion_id: the paths' numbering. Two queries, as
    one that read the journeys twice would have DuckDB hold them all in memory."""
    j = _lookback_touches(inp, conversion, cfg, converted_only=False, detail=False)
    j = j.filter(ibis.or_(*((j.channel == c) & (j.conversion_id == x) for c, x in firsts.items())))
    j = j.select("channel", "conversion_id", "occurred_at", "touchpoint_id")
    order = [j.occurred_at, j.touchpoint_id]
    j = j.filter(ibis.row_number().over(group_by=j.channel, order_by=order) == 0)
    return j.order_by(["conversion_id", "occurred_at", "touchpoint_id"])


def channel_order(
    inp: Inputs, conversion: ConversionType, cfg: AttributionConfig
) -> tuple[str, ...]:
    """The channels in the order the paths numbered them (see the module's docstring)."""
    firsts = inp.wh.to_arrow(channels_expr(inp, conversion, cfg))
    if not firsts.num_rows:
        return ()
    pairs = dict(zip(firsts["channel"].to_pylist(), firsts["first"].to_pylist(), strict=True))
    ordered = inp.wh.to_arrow(first_touches_expr(inp, conversion, cfg, pairs))
    return tuple(str(c) for c in ordered["channel"].to_pylist())


def _coded(j: ir.Table, channels: tuple[str, ...], dtype: str = "int64") -> ir.IntegerColumn:
    """Each touch's channel code (its index in `channels`), as `dtype`: the moves' window holds
    it as one byte (at most 62 channels and the padding code), and widens it only to compute."""
    cases = [(c, i) for i, c in enumerate(channels)]
    code: ir.IntegerColumn = j.channel.cases(*cases, else_=len(channels)).cast(dtype)
    return code


def _numbered_touches(
    inp: Inputs, conversion: ConversionType, cfg: AttributionConfig, bucket: Bucket = WHOLE
) -> ir.Table:
    """The touches of every journey (converted or not) of the entities in `bucket`, each with
    its journey's number (`journey`).

    The counts partition (moves) and group (channel sets) the touches by journey: by that
    8-byte integer rather than the conversion_id string, each held touch is narrower."""
    return _lookback_touches(
        inp, conversion, cfg, converted_only=False, detail=False, numbered=True, bucket=bucket
    )


def moves_expr(
    inp: Inputs,
    conversion: ConversionType,
    cfg: AttributionConfig,
    channels: tuple[str, ...],
    bucket: Bucket = WHOLE,
) -> ir.Table:
    """One row per (src, dst) window pair: the journeys making that move (`moves`) and, of
    those for which dst is the last window, the converted (`conversions`), the others
    (`nulls`) and the converted ones' revenue (`value`).

    One pass of window functions over the journeys' touches, in time order: the window of k
    channels at a touch is its channel and the next k - 1 (padded past a journey's end). A
    window exists at the first touch and at every touch followed by k - 1 more; the one
    before it (its `src`) is the previous touch's channel followed by all but its last digit,
    and consecutive equal windows are one state (ChannelAttribution's collapse), so only the
    touches whose window differs from the previous one make a move. The last window is at the
    touch k - 1 before the journey's end (or the first touch of a shorter journey).

    Only the journeys of `bucket`; `value` is an exact decimal, for the buckets' sums to add
    up exactly (`_added`)."""
    k = cfg.markov_order
    pad = len(channels)
    j = _numbered_touches(inp, conversion, cfg, bucket)
    j = j.select(
        "journey",
        "converted",
        "revenue",
        "occurred_at",
        "touchpoint_id",
        ch=_coded(j, channels, "int8"),
    )
    w = ibis.window(group_by=j.journey, order_by=[j.occurred_at, j.touchpoint_id])

    def at(offset: int) -> ir.IntegerValue:
        """The channel code `offset` touches on (back, when negative), NULL past the journey."""
        shifted = j.ch.lead(offset) if offset > 0 else j.ch.lag(-offset)
        code: ir.IntegerValue = shifted.over(w).cast("int64")
        return code

    code: ir.IntegerValue = j.ch.cast("int64")
    for t in range(1, k):
        code = code * (pad + 1) + at(t).fill_null(pad)
    before = at(-1)
    first = before.isnull()
    src = first.ifelse(START, before * (pad + 1) ** (k - 1) + code // (pad + 1))
    exists = ibis.literal(True) if k == 1 else first | at(k - 1).notnull()
    last = exists & at(k).isnull()
    j = j.select("converted", "revenue", src=src, dst=code, exists=exists, last=last)
    moved = j.src != j.dst
    j = j.filter(j.exists & (moved | j.last))
    won = j.last & j.converted
    return j.group_by(["src", "dst"]).aggregate(
        moves=moved.ifelse(1, 0).sum(),
        conversions=won.ifelse(1, 0).sum(),
        nulls=(j.last & ~j.converted).ifelse(1, 0).sum(),
        value=won.ifelse(j.revenue.fill_null(0.0), 0.0).cast(EXACT).sum(),
    )


def masks_expr(
    inp: Inputs,
    conversion: ConversionType,
    cfg: AttributionConfig,
    channels: tuple[str, ...],
    bucket: Bucket = WHOLE,
) -> ir.Table:
    """One row per distinct channel set (`mask`) with the converted journeys and their
    revenue (an exact decimal), of the journeys of `bucket`."""
    j = _numbered_touches(inp, conversion, cfg, bucket)
    keys = ["journey", "converted", "revenue"]
    j = j.select(*keys, bit=ibis.literal(2).pow(_coded(j, channels)).cast("int64"))
    if inp.wh.backend == "spark":  # Ibis compiles no BIT_OR for Spark: OR is the distinct sum
        j = j.distinct()
        per = j.group_by(keys).aggregate(mask=j.bit.sum())
    else:
        per = j.group_by(keys).aggregate(mask=j.bit.bit_or())
    return per.group_by("mask").aggregate(
        conversions=per.converted.ifelse(1, 0).sum(),
        value=per.converted.ifelse(per.revenue.fill_null(0.0), 0.0).cast(EXACT).sum(),
    )


def _buckets(inp: Inputs) -> int:
    """How many buckets the journeys are counted in: one per TOUCHPOINTS_PER_BUCKET touchpoints
    on DuckDB (whose memory they bound); one on PostgreSQL and Spark, which spill instead (and
    whose hash functions differ: `journeys.in_bucket` is DuckDB's)."""
    if inp.wh.backend != "duckdb":
        return 1
    return max(1, -(-inp.wh.count("touchpoints") // TOUCHPOINTS_PER_BUCKET))


def _added(wh: Warehouse, parts: list[ir.Table], *keys: str) -> pa.Table:
    """The buckets' counts added per `keys`, with `value` the exact sum of their decimal sums
    cast once, as a single query over every journey would: the same bits."""
    if len(parts) == 1:
        return wh.to_arrow(parts[0].mutate(value=parts[0].value.cast("float64")))
    t = ibis.memtable(pa.concat_tables(wh.to_arrow(p) for p in parts))
    counts = {c: t[c].sum() for c in t.columns if c not in (*keys, "value")}
    sums = t.group_by(list(keys)).aggregate(**counts, value=t.value.sum().cast("float64"))
    return wh.to_arrow(sums)


def fit_counts(inp: Inputs, conversion: ConversionType, cfg: AttributionConfig) -> FitCounts:
    """The counts the data-driven models are fitted on (see the module's docstring)."""
    wh = inp.wh
    channels = channel_order(inp, conversion, cfg)
    if len(channels) > 62:
        raise ValueError("channel sets as bitmasks support at most 62 channels")
    if not channels:  # no journey
        codes, counts = np.zeros(0, dtype=np.int64), np.zeros(0)
        return FitCounts(
            (),
            cfg.markov_order,
            codes,
            codes,
            counts,
            codes,
            counts,
            counts,
            counts,
            codes,
            counts,
            counts,
        )
    n = _buckets(inp)
    buckets = [(i, n) for i in range(n)]
    mv = _added(wh, [moves_expr(inp, conversion, cfg, channels, b) for b in buckets], "src", "dst")
    ms = _added(wh, [masks_expr(inp, conversion, cfg, channels, b) for b in buckets], "mask")
    ms = ms.sort_by("mask")
    src, dst = (mv[c].to_numpy().astype(np.int64) for c in ("src", "dst"))
    moves = mv["moves"].to_numpy().astype(np.float64)
    conv, nulls = (mv[c].to_numpy().astype(np.float64) for c in ("conversions", "nulls"))
    ends = (conv + nulls) > 0
    value = mv["value"].to_numpy().astype(np.float64)
    return FitCounts(
        channels=channels,
        order=cfg.markov_order,
        src=src[moves > 0],
        dst=dst[moves > 0],
        moves=moves[moves > 0],
        end=dst[ends],
        end_conversions=conv[ends],
        end_nulls=nulls[ends],
        end_value=value[ends],
        masks=ms["mask"].to_numpy().astype(np.int64),
        mask_conversions=ms["conversions"].to_numpy().astype(np.float64),
        mask_value=ms["value"].to_numpy().astype(np.float64),
    )
