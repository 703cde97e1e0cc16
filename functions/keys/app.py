"""The keys API: POST/GET /v1/keys, PATCH/DELETE /v1/keys/{key_id}."""

from aws_lambda_powertools.event_handler import Response

from tally import auth, http, keys

app = http.create_app(scope="keys:manage")
# Bodies are parsed by the layer (one JSON parser and media-type check for every route).
app.document_body("POST", "/v1/keys", keys.CreateKeyRequest)
app.document_body("PATCH", "/v1/keys/{key_id}", keys.UpdateKeyRequest)
app.document_parameter("key_id", {"type": "string", "pattern": auth.KEY_ID_PATTERN.pattern})


@app.post("/v1/keys", summary="Create an API key (the secret is shown once)", status_code=201)
def create_key() -> keys.CreatedKey:
    request = http.json_body(app, keys.CreateKeyRequest)
    return keys.create_key(app.principal, request)


@app.get("/v1/keys", summary="List the account's active keys")
def list_keys() -> keys.KeyList:
    return keys.list_keys(app.principal)


@app.patch("/v1/keys/<key_id>", summary="Rename a key or change its scopes")
def update_key(key_id: str) -> keys.KeyInfo:
    request = http.json_body(app, keys.UpdateKeyRequest)
    return keys.update_key(app.principal, key_id, request)


@app.delete(
    "/v1/keys/<key_id>",
    summary="Revoke a key",
    responses={204: {"description": "The key was revoked"}},
)
def revoke_key(key_id: str) -> Response[None]:
    keys.revoke_key(app.principal, key_id)
    return Response(204, None, None)


lambda_handler = http.lambda_handler(app)
