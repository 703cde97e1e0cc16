"""The keys API: POST/GET /v1/keys, PATCH/DELETE /v1/keys/{key_id}."""

from aws_lambda_powertools.event_handler import Response

from tally import http, keys

app = http.create_app()
SCOPE = "keys:manage"


@app.post("/v1/keys", summary="Create an API key (the secret is shown once)", status_code=201)
def create_key(request: keys.CreateKeyRequest) -> keys.CreatedKey:
    return keys.create_key(http.principal(app, SCOPE), request)


@app.get("/v1/keys", summary="List the account's active keys")
def list_keys() -> keys.KeyList:
    return keys.list_keys(http.principal(app, SCOPE))


@app.patch("/v1/keys/<key_id>", summary="Rename a key or change its scopes")
def update_key(key_id: str, request: keys.UpdateKeyRequest) -> keys.KeyInfo:
    return keys.update_key(http.principal(app, SCOPE), key_id, request)


@app.delete(
    "/v1/keys/<key_id>",
    summary="Revoke a key",
    responses={204: {"description": "The key was revoked"}},
)
def revoke_key(key_id: str) -> Response[None]:
    keys.revoke_key(http.principal(app, SCOPE), key_id)
    return Response(204, None, None)


lambda_handler = http.lambda_handler(app)
