"""Automations: triggers on warehouse events → consent-checked actions, delivered exactly once.

`outbox` records events and their actions in the transaction of the change behind them;
`dispatcher` sends outbound actions with retries, backoff and a lease; `inbox` reads and
steers the outbox and the tasks it creates.
"""

from revops.automation.dispatcher import PassReport, dispatch, holder_id, run_pass
from revops.automation.outbox import Queued, evaluate, install, queue

__all__ = [
    "PassReport",
    "Queued",
    "dispatch",
    "evaluate",
    "holder_id",
    "install",
    "queue",
    "run_pass",
]
