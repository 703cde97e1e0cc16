"""DynamoDB on-demand prices, and capacity units turned into dollars.

Prices: DynamoDB Standard table class, on-demand, US East (N. Virginia), as
published since AWS halved on-demand throughput prices in November 2024 and as
listed when these figures were written (2026-12-06): $0.625 per million write
request units and $0.125 per million read request units. One write request unit
is one WCU of the meter (1 KB, 2 in a transaction), one read request unit one
strongly consistent 4 KB read or two eventually consistent ones (0.5 per RCU of
the meter's eventually consistent reads). Storage, streams and Lambda are left
out: DynamoDB Streams reads by a Lambda trigger are free, and storage does not
depend on the design's write pattern.
"""

from __future__ import annotations

PRICES_AS_OF = "2026-12-06"
PRICE_REGION = "us-east-1, Standard table class, on-demand"
WRITE_PER_MILLION = 0.625  # USD per million write request units
READ_PER_MILLION = 0.125  # USD per million read request units


def per_million(wcu: float = 0.0, rcu: float = 0.0) -> float:
    """Dollars for a million operations that each consume `wcu` and `rcu`."""
    return wcu * WRITE_PER_MILLION + rcu * READ_PER_MILLION


def dollars(value: float) -> str:
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.4f}"
