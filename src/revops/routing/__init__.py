"""Lead routing: an ordered rule set, territories and round-robin pools, every decision traced.

`route` is the pure core; `store` persists decisions and re-routes leads in bulk.
"""

from revops.routing.engine import Decision, Router, RuleTrace, compile_routing, route
from revops.routing.round_robin import RoutingState, Tally, UserInfo
from revops.routing.store import reroute, route_unassigned, routing_state

__all__ = [
    "Decision",
    "Router",
    "RoutingState",
    "RuleTrace",
    "Tally",
    "UserInfo",
    "compile_routing",
    "reroute",
    "route",
    "route_unassigned",
    "routing_state",
]
