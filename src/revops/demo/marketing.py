"""Marketing: campaigns by channel, their daily spend, and every person's touchpoints.

Always-on channels (search, social, partner, …) run as overlapping flights that tile the two
years; events and webinars happen on one day, so their leads and attendance cluster on it.
Spend is set per lead at a channel-specific cost, which is how paid social ends up with the
highest cost per lead. Touchpoints surround a person's milestones: a few anonymous visits before
creation, the converting touch at creation, background engagement, and a burst in the two weeks
before each MQL — the recency signal a scoring model should pick up, and the webinar attended
between MQL and SQL (drawn by the funnel, which it makes more likely to qualify).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from revops.demo._common import (
    CH,
    CHANNELS,
    DAY,
    END,
    NAT,
    START,
    WINDOW_DAYS,
    BoolArray,
    FloatArray,
    IntArray,
    TimeArray,
    allocate,
    choice_by_group,
    choice_idx,
    days,
    delta,
)
from revops.warehouse.schema import TOUCH_TYPES

EVENT_CHANNELS = (CH["events"], CH["webinar"])
_CAMPAIGN_WEIGHT = (8, 3, 8, 8, 8, 10, 5, 2, 1, 7)
_CAMPAIGN_TYPE = (
    "Advertisement",
    "Content",
    "Advertisement",
    "Email",
    "Trade Show",
    "Webinar",
    "Partners",
    "Referral Program",
    "Website",
    "Telemarketing",
)
_LABEL = (
    "Paid Search",
    "SEO Content",
    "Paid Social",
    "Email Nurture",
    "Trade Show",
    "Webinar",
    "Partner Co-Marketing",
    "Customer Referral Program",
    "Website",
    "Outbound Sequence",
)
_TOPICS = (
    "Forecasting Pipeline with AI",
    "Revenue Metrics That Matter",
    "From Dashboards to Decisions",
    "Modern Data Stack for Finance",
    "Embedded Analytics Playbook",
    "Board-Ready Reporting",
    "Churn Signals in Product Data",
    "Attribution Without Tears",
)
_EVENTS = (
    "SaaStr Annual",
    "Gartner Data & Analytics Summit",
    "Big Data LDN",
    "Web Summit",
    "Snowflake Summit",
    "AWS re:Invent",
    "Dreamforce",
    "DataEngBytes",
    "Collision",
)
# Cost per lead in USD by channel; spend follows the leads a campaign actually produced.
CPL = (190.0, 30.0, 480.0, 45.0, 350.0, 160.0, 140.0, 70.0, 0.0, 110.0)

T = {name: i for i, name in enumerate(TOUCH_TYPES)}
# the touch a person is created by, per source channel
_CREATION_TOUCH = np.array(
    [
        T["form_fill"],
        T["content_download"],
        T["form_fill"],
        T["email_click"],
        T["event_attended"],
        T["webinar_attended"],
        T["form_fill"],
        T["form_fill"],
        T["demo_request"],
        T["meeting"],
    ]
)
# which channel a touch of each type comes through (rows: touch types, cols: channels)
_TYPE_CHANNEL = np.array([
    # ps   org  psoc email evt  web  part ref  dir  out
    [0.20, 0.40, 0.08, 0.00, 0.0, 0.0, 0.04, 0.03, 0.25, 0.00],  # web_visit
    [0.30, 0.25, 0.15, 0.10, 0.0, 0.0, 0.10, 0.05, 0.05, 0.00],  # form_fill
    [0.15, 0.35, 0.20, 0.25, 0.0, 0.0, 0.05, 0.00, 0.00, 0.00],  # content_download
    [0.20, 0.20, 0.05, 0.05, 0.0, 0.0, 0.05, 0.05, 0.40, 0.00],  # demo_request
    [0.00, 0.00, 0.00, 0.85, 0.0, 0.0, 0.00, 0.00, 0.00, 0.15],  # email_open
    [0.00, 0.00, 0.00, 0.85, 0.0, 0.0, 0.00, 0.00, 0.00, 0.15],  # email_click
    [0.65, 0.00, 0.35, 0.00, 0.0, 0.0, 0.00, 0.00, 0.00, 0.00],  # ad_click
    [0.00, 0.00, 0.00, 0.00, 1.0, 0.0, 0.00, 0.00, 0.00, 0.00],  # event_attended
    [0.00, 0.00, 0.00, 0.00, 0.0, 1.0, 0.00, 0.00, 0.00, 0.00],  # webinar_attended
    [0.10, 0.30, 0.05, 0.00, 0.0, 0.0, 0.00, 0.00, 0.55, 0.00],  # chat
    [0.00, 0.00, 0.00, 0.00, 0.0, 0.0, 0.15, 0.10, 0.00, 0.75],  # meeting
])  # fmt: skip
_UTM = {
    "paid_search": (("google", "bing"), (0.82, 0.18), "cpc"),
    "paid_social": (("linkedin", "facebook"), (0.7, 0.3), "paid_social"),
    "email": (("marketo",), (1.0,), "email"),
    "events": (("event",), (1.0,), "offline"),
    "webinar": (("on24",), (1.0,), "webinar"),
    "partner": (("partner",), (1.0,), "referral"),
    "referral": (("g2", "capterra"), (0.6, 0.4), "referral"),
    "outbound": (("outreach",), (1.0,), "email"),
}


@dataclass(frozen=True)
class Campaigns:
    frame: pd.DataFrame  # canonical columns except campaign_id (set at assembly)
    channel: IntArray
    start: TimeArray
    end: TimeArray
    event_day: TimeArray  # the day an event/webinar happens (NaT for always-on)
    planned: BoolArray  # still in the future at the end of the window


def build_campaigns(rng: np.random.Generator, scale: float) -> Campaigns:
    """About 60 campaigns at scale 1, every channel represented."""
    counts = allocate(max(20, round(60 * scale)), [float(w) for w in _CAMPAIGN_WEIGHT])
    channel: list[int] = []
    start: list[np.datetime64] = []
    end: list[np.datetime64] = []
    event_day: list[np.datetime64] = []
    planned: list[bool] = []
    names: list[str] = []
    for c, k in enumerate(counts):
        if c in EVENT_CHANNELS:
            n_future = 1 if k >= 3 else 0
            span = WINDOW_DAYS - 30
            offsets = (np.arange(k - n_future) + rng.uniform(0.1, 0.9, k - n_future)) * (
                span / max(k - n_future, 1)
            ) + 15
            offsets = np.append(offsets, WINDOW_DAYS + 20 + rng.uniform(0, 30, n_future))
            for i, off in enumerate(offsets):
                day = START + delta(float(np.floor(off)))
                if int((day - START) / DAY) % 7 in (1, 2):  # never on a weekend
                    day = day + 2 * DAY
                promo = 21 if c == CH["webinar"] else 60
                channel.append(c)
                start.append(day - promo * DAY)
                end.append(day + 7 * DAY)
                event_day.append(day)
                planned.append(bool(day > END))
                when = str(day.astype("datetime64[D]"))
                if c == CH["webinar"]:
                    names.append(f"{when} Webinar - {_TOPICS[i % len(_TOPICS)]}")
                else:
                    names.append(f"{when[:7]} Trade Show - {_EVENTS[i % len(_EVENTS)]}")
        else:
            length = (WINDOW_DAYS + 60) / k
            for i in range(k):
                s = START - 45 * DAY + delta(float(np.floor(i * length + rng.uniform(0, 10))))
                e = s + delta(float(np.floor(length + rng.uniform(20, 45))))
                if i == k - 1:
                    e = max(e, END + 40 * DAY)
                channel.append(c)
                start.append(s.astype("datetime64[D]").astype("datetime64[s]"))
                end.append(e.astype("datetime64[D]").astype("datetime64[s]"))
                event_day.append(NAT)
                planned.append(False)
                half = f"{str(s)[:4]} H{1 if int(str(s)[5:7]) <= 6 else 2}"
                suffix = f" {i + 1}" if k > 2 else ""
                names.append(f"{half} {_LABEL[c]}{suffix}")
    ch = np.array(channel, dtype=np.int64)
    st = np.array(start, dtype="datetime64[s]")
    en = np.array(end, dtype="datetime64[s]")
    status = np.where(np.array(planned), "Planned", np.where(en < END, "Completed", "In Progress"))
    frame = pd.DataFrame(
        {
            "name": names,
            "channel": np.array(CHANNELS)[ch],
            "campaign_type": np.array(_CAMPAIGN_TYPE)[ch],
            "status": status,
            "start_date": st,
            "end_date": en,
        }
    )
    return Campaigns(
        frame, ch, st, en, np.array(event_day, dtype="datetime64[s]"), np.array(planned)
    )


def pick_campaign(
    rng: np.random.Generator, camps: Campaigns, channel: IntArray, times: TimeArray
) -> tuple[IntArray, TimeArray]:
    """A campaign of each row's channel running at its time; event rows move to the event day.

    Always-on flights overlap, so a row in an overlap goes to either flight. Event and webinar
    rows go to the latest event on or before their time (the first one if none was earlier),
    and their time becomes that day during office hours.
    """
    out = np.full(len(times), -1, dtype=np.int64)
    new_times = times.copy()
    for c in range(len(CHANNELS)):
        rows = np.flatnonzero(channel == c)
        members = np.flatnonzero((camps.channel == c) & ~camps.planned)
        if len(rows) == 0 or len(members) == 0:
            continue
        t = times[rows]
        if c in EVENT_CHANNELS:
            order = members[np.argsort(camps.event_day[members])]
            pos = np.clip(np.searchsorted(camps.event_day[order], t, "right") - 1, 0, None)
            chosen = order[pos]
            hours = rng.uniform(9.0, 17.0, len(rows))
            new_times[rows] = camps.event_day[chosen] + days(hours / 24.0)
        else:
            order = members[np.argsort(camps.start[members])]
            pos = np.clip(np.searchsorted(camps.start[order], t, "right") - 1, 0, None)
            prev = np.clip(pos - 1, 0, None)
            use_prev = (pos > 0) & (camps.end[order][prev] >= t) & (rng.random(len(rows)) < 0.3)
            chosen = order[np.where(use_prev, prev, pos)]
        out[rows] = chosen
    return out, new_times


def build_spend(
    rng: np.random.Generator, camps: Campaigns, person_campaign: IntArray
) -> tuple[pd.DataFrame, FloatArray]:
    """Daily spend per campaign (campaign index, day, amount) and each campaign's budget."""
    n = len(camps.channel)
    leads = np.bincount(person_campaign[person_campaign >= 0], minlength=n).astype(float)
    parts: list[pd.DataFrame] = []
    budget = np.zeros(n)
    for c in range(n):
        ch = int(camps.channel[c])
        if camps.planned[c]:
            budget[c] = round(CPL[ch] * max(leads.mean(), 20.0), -3)
            continue
        if CPL[ch] == 0.0:
            continue
        same = camps.channel == ch
        typical = max(float(leads[same].mean()), 5.0)
        total = CPL[ch] * max(leads[c], 0.3 * typical) * rng.uniform(0.85, 1.2)
        lo = max(camps.start[c], START).astype("datetime64[D]")
        hi = min(camps.end[c], END).astype("datetime64[D]")
        day_list = np.arange(lo, hi + np.timedelta64(1, "D"))
        if len(day_list) == 0:
            continue
        weekday = (day_list.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        weight = np.where(weekday >= 5, 0.55, 1.0) * rng.lognormal(0.0, 0.25, len(day_list))
        if ch in EVENT_CHANNELS:
            event = camps.event_day[c].astype("datetime64[D]")
            near = np.abs((day_list - event).astype(np.int64)) <= 1
            weight = np.where(near, weight * (40.0 if ch == CH["events"] else 8.0), weight * 0.3)
        if ch == CH["email"]:
            weight = np.where(weekday == 1, weight, 0.0)  # sends go out on Tuesdays
        if weight.sum() == 0:
            weight = np.ones(len(day_list))
        amount = np.round(total * weight / weight.sum(), 2)
        keep = amount > 0
        parts.append(
            pd.DataFrame({"campaign": c, "spend_date": day_list[keep], "amount": amount[keep]})
        )
        budget[c] = float(np.ceil(total * rng.uniform(1.0, 1.15) / 1000.0) * 1000.0)
    spend = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({"campaign": [], "spend_date": [], "amount": []})
    )
    return spend, budget


@dataclass(frozen=True)
class Milestones:
    """What the touchpoint generator needs to know about each person."""

    created: TimeArray
    channel: IntArray
    campaign: IntArray
    fit: FloatArray
    mql_times: TimeArray  # every MQL event time (first and re-qualifications)
    mql_person: IntArray
    sal: TimeArray
    sql: TimeArray
    webinar_at: TimeArray  # the webinar attended between MQL and SQL (NaT = none), funnel.py
    include: BoolArray  # False for the planted dirty rows, which have no activity


def _burst(
    rng: np.random.Generator,
    person: IntArray,
    anchor: TimeArray,
    lam: float,
    extra: int,
    mean_days: float,
    before: bool,
) -> tuple[IntArray, TimeArray]:
    count = rng.poisson(lam, len(person)) + extra
    who = np.repeat(person, count)
    at = np.repeat(anchor, count)
    gap = days(rng.exponential(mean_days, len(who)) + 0.02)
    return who, (at - gap) if before else (at + gap)


def build_touchpoints(rng: np.random.Generator, camps: Campaigns, ms: Milestones) -> pd.DataFrame:
    """Touchpoints (person, time, channel, type, campaign, utm_*) for every included person."""
    people = np.flatnonzero(ms.include)
    who_parts: list[IntArray] = []
    when_parts: list[TimeArray] = []
    type_parts: list[IntArray] = []

    def add(who: IntArray, when: TimeArray, probs: dict[str, float]) -> None:
        p = np.zeros(len(TOUCH_TYPES))
        for name, w in probs.items():
            p[T[name]] = w
        who_parts.append(who)
        when_parts.append(when)
        type_parts.append(choice_idx(rng, p, len(who)))

    # anonymous visits before the person was known (Marketo merges them on creation)
    who, when = _burst(rng, people, ms.created[people], 1.4, 0, 9.0, before=True)
    add(who, when, {"web_visit": 0.75, "ad_click": 0.18, "content_download": 0.07})
    # background engagement over the person's first eight months
    count = rng.poisson(5.4 + 0.6 * np.clip(ms.fit[people], -1.5, 2.0))
    who = np.repeat(people, count)
    horizon = np.minimum(ms.created[who] + 240 * DAY, END)
    span = (horizon - ms.created[who]).astype(np.int64)
    when = ms.created[who] + (rng.random(len(who)) * span).astype(np.int64).astype("m8[s]")
    add(
        who,
        when,
        {
            "email_open": 0.36,
            "email_click": 0.10,
            "web_visit": 0.30,
            "content_download": 0.08,
            "webinar_attended": 0.05,
            "ad_click": 0.08,
            "event_attended": 0.03,
        },
    )
    # the burst that precedes each MQL
    keep = ms.include[ms.mql_person]
    who, when = _burst(rng, ms.mql_person[keep], ms.mql_times[keep], 2.6, 2, 3.5, before=True)
    add(
        who,
        when,
        {
            "content_download": 0.24,
            "web_visit": 0.28,
            "webinar_attended": 0.12,
            "email_click": 0.16,
            "form_fill": 0.08,
            "demo_request": 0.07,
            "chat": 0.05,
        },
    )
    # sales-assist touches around acceptance and qualification
    sal_people = people[~np.isnat(ms.sal[people])]
    who, when = _burst(rng, sal_people, ms.sal[sal_people], 1.0, 1, 4.0, before=False)
    add(who, when, {"demo_request": 0.4, "meeting": 0.4, "web_visit": 0.2})

    # the webinar attended between MQL and the SQL decision (planted, funnel.py): watched live
    # or on demand, so it keeps its own time instead of moving to the webinar's day
    attended = people[~np.isnat(ms.webinar_at[people])]
    n_attended = len(attended)
    who_parts.append(attended)
    when_parts.append(ms.webinar_at[attended])
    type_parts.append(np.full(n_attended, T["webinar_attended"], dtype=np.int64))

    who_all = np.concatenate(who_parts)
    when_all = np.concatenate(when_parts)
    type_all = np.concatenate(type_parts)
    on_demand = np.zeros(len(who_all), dtype=bool)
    on_demand[len(who_all) - n_attended :] = True
    # pre-creation touches may not precede the person's own earlier history by much
    when_all = np.maximum(when_all, ms.created[who_all] - 45 * DAY)
    ch_all = choice_by_group(rng, type_all, _TYPE_CHANNEL)
    # the creation touch: the source channel and campaign, at the creation time
    who_all = np.concatenate([people, who_all])
    when_all = np.concatenate([ms.created[people], when_all])
    type_all = np.concatenate([_CREATION_TOUCH[ms.channel[people]], type_all])
    ch_all = np.concatenate([ms.channel[people], ch_all])
    on_demand = np.concatenate([np.zeros(len(people), dtype=bool), on_demand])
    camp, moved = pick_campaign(rng, camps, ch_all, when_all)
    when_all = np.where(on_demand, when_all, moved)
    camp[: len(people)] = ms.campaign[people]
    when_all[: len(people)] = ms.created[people]
    inside = (when_all >= START) & (when_all <= END)
    order = np.lexsort((who_all[inside], when_all[inside]))
    idx = np.flatnonzero(inside)[order]
    return pd.DataFrame(
        {
            "person": who_all[idx],
            "occurred_at": when_all[idx],
            "channel": ch_all[idx],
            "touch_type": type_all[idx],
            "campaign": camp[idx],
        }
    )


UTM_SOURCES = (
    "google",
    "bing",
    "linkedin",
    "facebook",
    "marketo",
    "event",
    "on24",
    "partner",
    "g2",
    "capterra",
    "outreach",
)
UTM_MEDIUMS = ("cpc", "paid_social", "email", "offline", "webinar", "referral")


def utm_codes(rng: np.random.Generator, channel: IntArray) -> tuple[IntArray, IntArray]:
    """utm_source / utm_medium as indices into UTM_SOURCES / UTM_MEDIUMS (-1 = untagged).

    Organic search and direct traffic carry no tracking parameters; every other channel's links
    are tagged.
    """
    n = len(channel)
    source = np.full(n, -1, dtype=np.int64)
    medium = np.full(n, -1, dtype=np.int64)
    for name, (sources, weights, med) in _UTM.items():
        rows = np.flatnonzero(channel == CH[name])
        pick = rng.choice(len(sources), size=len(rows), p=np.array(weights))
        source[rows] = np.array([UTM_SOURCES.index(x) for x in sources])[pick]
        medium[rows] = UTM_MEDIUMS.index(med)
    return source, medium
