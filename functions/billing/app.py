"""The billing API: GET /api/billing/status, GET /api/credits/balance."""

from tally import http
from tally.stats import billing

app = http.create_app(scope="billing:read")


@app.get(
    "/api/billing/status",
    summary="Billing profile, subscription and credits",
    responses={200: http.documented(billing.BillingStatus, "The account's billing status")},
)
def billing_status() -> dict[str, object]:
    return billing.status(app.principal.account)


@app.get(
    "/api/credits/balance",
    summary="The available credit balance",
    responses={200: http.documented(billing.CreditBalance, "The available credits")},
)
def credit_balance() -> dict[str, int]:
    return billing.balance(app.principal.account)


lambda_handler = http.lambda_handler(app)
