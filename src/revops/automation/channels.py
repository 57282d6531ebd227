"""Delivery channels: one attempt to hand an outbox action to its receiver.

HTTP (webhooks and Slack-compatible chat messages) goes through `urllib.request`, email through
`smtplib`; both from the standard library. Every request carries the action's idempotency key
(an HTTP header; for email the Message-ID and a header), so a receiver that saw it before can
drop the retry the dispatcher makes when it cannot know whether an attempt landed.

An attempt returns an `Outcome`, never raises: 2xx (or an accepted message) is delivered;
408, 425, 429, 5xx, timeouts and refused connections are worth retrying; any other answer is
permanent and goes straight to the dead-letter list.
"""

from __future__ import annotations

import json
import os
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from revops.automation.signing import IDEMPOTENCY, SIGNATURE, TIMESTAMP, sign
from revops.config.automation import AutomationConfig

_RETRY_STATUS = frozenset({408, 425, 429})
SYNC_OBJECT = "X-Revops-Object"  # the system object a write-back file is for


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retry: bool
    status_code: int | None
    error: str | None
    duration_ms: float


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    start = time.perf_counter()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310

    def took() -> float:
        return round((time.perf_counter() - start) * 1000, 3)

    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
            return Outcome(True, False, int(response.status), None, took())
    except urllib.error.HTTPError as exc:
        code = int(exc.code)
        retry = code >= 500 or code in _RETRY_STATUS
        return Outcome(False, retry, code, f"HTTP {code} {exc.reason}", took())
    except TimeoutError:
        return Outcome(False, True, None, f"timed out after {timeout:g} s", took())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(False, True, None, f"connection failed: {reason}", took())


def send_http(
    cfg: AutomationConfig, kind: str, endpoint: str, action_id: str, payload: dict[str, Any]
) -> Outcome:
    """POST the payload as JSON (a write-back file as the CSV itself); a webhook is signed with
    its endpoint's secret, a write-back file too when its endpoint has one."""
    ep = cfg.endpoint(endpoint)
    if kind == "sync":
        body = str(payload["csv"]).encode()
        headers = {
            "Content-Type": "text/csv; charset=utf-8",
            IDEMPOTENCY: action_id,
            SYNC_OBJECT: f"{payload['system']}.{payload['object']}",
        }
    else:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", IDEMPOTENCY: action_id}
    if kind == "webhook" or (kind == "sync" and ep.secret_env):
        secret = os.environ.get(ep.secret_env or "")
        if not secret:
            return Outcome(False, True, None, f"${ep.secret_env} is not set: cannot sign", 0.0)
        ts = int(time.time())
        headers[TIMESTAMP] = str(ts)
        headers[SIGNATURE] = sign(secret.encode(), ts, body)
    return _post(ep.url, body, headers, cfg.dispatch.timeout_seconds)


def send_email(cfg: AutomationConfig, action_id: str, payload: dict[str, Any]) -> Outcome:
    """One message over SMTP; the Message-ID is the idempotency key."""
    smtp = cfg.smtp
    assert smtp is not None  # validated: email actions need smtp
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = payload["to"]
    msg["Subject"] = payload["subject"]
    msg["Message-ID"] = f"<{action_id}@revops>"
    msg[IDEMPOTENCY] = action_id
    msg.set_content(payload["text"])
    start = time.perf_counter()

    def took() -> float:
        return round((time.perf_counter() - start) * 1000, 3)

    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=cfg.dispatch.timeout_seconds) as s:
            if smtp.starttls:
                s.starttls()
            user = os.environ.get(smtp.user_env or "")
            if user:
                s.login(user, os.environ.get(smtp.password_env or "", ""))
            refused = s.send_message(msg)
        if refused:
            return Outcome(False, False, None, f"recipient refused: {refused}", took())
        return Outcome(True, False, 250, None, took())
    except smtplib.SMTPResponseException as exc:
        code = int(exc.smtp_code)
        return Outcome(False, code < 500, code, f"SMTP {code}", took())
    except smtplib.SMTPRecipientsRefused as exc:
        return Outcome(False, False, None, f"recipient refused: {exc.recipients}", took())
    except TimeoutError:
        return Outcome(False, True, None, "SMTP timed out", took())
    except (OSError, smtplib.SMTPException) as exc:
        return Outcome(False, True, None, f"SMTP failed: {exc}", took())


def deliver(
    cfg: AutomationConfig, kind: str, target: str | None, action_id: str, payload: dict[str, Any]
) -> Outcome:
    """One attempt at an outbound action of `kind` (webhook, chat, email or sync)."""
    if kind == "email":
        return send_email(cfg, action_id, payload)
    if target is None:
        return Outcome(False, False, None, "no endpoint", 0.0)
    try:
        return send_http(cfg, kind, target, action_id, payload)
    except KeyError as exc:  # the endpoint left the operating model since the action queued
        return Outcome(False, False, None, str(exc.args[0]), 0.0)
