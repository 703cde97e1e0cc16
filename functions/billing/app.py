"""The billing API: GET /api/billing/status, GET /api/credits/balance."""

from typing import Any

from tally import http
from tally.stats import billing

app = http.create_app()
SCOPE = "billing:read"


@app.get("/api/billing/status", summary="Billing profile, subscription and credits")
def billing_status() -> dict[str, Any]:
    return billing.status(http.principal(app, SCOPE).account)


@app.get("/api/credits/balance", summary="The available credit balance")
def credit_balance() -> dict[str, int]:
    return billing.balance(http.principal(app, SCOPE).account)


lambda_handler = http.lambda_handler(app)
