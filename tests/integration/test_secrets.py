"""Secrets: never logged, stored only as hashes, at least 128 bits of entropy.

A run creates, lists, uses (in every header, with and without the scope, on a
throttled read), updates and revokes keys with every logger at DEBUG and every
log line captured, formatted output and raw records alike; no secret, nor a
16-character piece of one, may appear.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import string
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from tally import auth
from tally.config import get_settings
from tests.support import (
    call_route,
    client_error,
    install_faulty_client,
    invoke,
    on_table,
    proxy_event,
    read_routes,
)

BASE64URL = set(string.ascii_letters + string.digits + "-_")


class _RecordFormatter(logging.Formatter):
    """The message, the exception and every attribute of the record (`extra` included)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{super().format(record)} {vars(record)!r}"


@contextmanager
def all_log_output() -> Iterator[io.StringIO]:
    """Every logger at DEBUG into one buffer: handlers' own (formatted) output and raw records."""
    buffer = io.StringIO()
    capture = logging.StreamHandler(buffer)
    capture.setFormatter(_RecordFormatter())
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = []
    for logger in loggers:
        # Assigned, not setStream(): that flushes the old stream, which may be a closed
        # capture of an earlier test (Powertools binds sys.stdout when it is created).
        streams = [
            (handler, handler.stream)
            for handler in logger.handlers
            if isinstance(handler, logging.StreamHandler) and handler is not capture
        ]
        for handler, _ in streams:
            handler.stream = buffer
        saved.append((logger, logger.level, streams))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(capture)
    try:
        yield buffer
    finally:
        for logger, level, streams in saved:
            logger.removeHandler(capture)
            logger.setLevel(level)
            for handler, stream in streams:
                handler.stream = stream


def _keys_call(method: str, path: str, key: str, body: Any = None, **options: Any) -> dict:
    return invoke("keys", proxy_event(method, path, key=key, body=body, **options))


def _revoke(key: str, key_id: str) -> dict:
    return _keys_call(
        "DELETE",
        f"/v1/keys/{key_id}",
        key,
        resource="/v1/keys/{key_id}",
        path_parameters={"key_id": key_id},
    )


def test_no_secret_reaches_any_log(keys, monkeypatch, capsys):
    routes = read_routes()
    secrets = list(keys.values())
    with all_log_output() as logs:
        created = _keys_call(
            "POST", "/v1/keys", keys["admin"], {"account": "acme", "scopes": ["stats:read"]}
        )
        own = _keys_call("POST", "/v1/keys", keys["acme"], {"scopes": ["billing:read"]})
        assert (created["statusCode"], own["statusCode"]) == (201, 201)
        new = [created["json"], own["json"]]
        secrets += [key["secret"] for key in new]
        listed = _keys_call("GET", "/v1/keys", keys["acme"])
        assert not any(secret in listed["body"] for secret in secrets)
        for key in new:
            for header in ("Authorization", "X-API-KEY", "CB-Administration-API-Key"):
                value = f"Bearer {key['secret']}" if header == "Authorization" else key["secret"]
                for route in routes:
                    call_route(route, None, headers={header: value})
        for route in routes:
            call_route(route, new[0]["secret"], headers={"x-account-id": "globex"})
        unknown = auth.generate_secret()
        secrets.append(unknown)
        assert call_route(routes[0], unknown)["statusCode"] == 401
        faulty = install_faulty_client(monkeypatch)
        faulty.inject(
            "batch_get_item",
            lambda: client_error("ThrottlingException", "BatchGetItem"),
            match=on_table(get_settings().counters_table),
        )
        throttled = call_route(
            next(r for r in routes if r.handler.group == "dashboard"), new[0]["secret"]
        )
        assert throttled["statusCode"] == 503
        faulty.clear()
        for key in new:
            assert _revoke(keys["acme"], key["key_id"])["statusCode"] == 204
            assert call_route(routes[0], key["secret"])["statusCode"] == 401
    output = logs.getvalue() + "".join(capsys.readouterr())
    assert "DynamoDB throttled the request" in output, "the capture must see the layer's logs"
    leaked = [
        secret
        for secret in secrets
        if any(secret[i : i + 16] in output for i in range(0, len(secret) - 15))
    ]
    assert leaked == []


def test_api_logs_carry_the_correlation_id_and_the_caller(keys, monkeypatch, capsys):
    faulty = install_faulty_client(monkeypatch)
    faulty.inject(
        "batch_get_item",
        lambda: client_error("ThrottlingException", "BatchGetItem"),
        match=on_table(get_settings().counters_table),
    )
    route = next(r for r in read_routes() if r.handler.group == "usage_stats")
    event = proxy_event("GET", route.path, key=keys["acme"])
    event["requestContext"]["requestId"] = "req-correlation-42"
    capsys.readouterr()
    with all_log_output() as logs:
        assert invoke(route.handler.group, event)["statusCode"] == 503
    lines = [
        json.loads(line[line.index("{") :])
        for line in (logs.getvalue() + capsys.readouterr().out).splitlines()
        if '"correlation_id"' in line and line.lstrip().startswith("{")
    ]
    warning = next(line for line in lines if line["message"] == "DynamoDB throttled the request")
    assert warning["correlation_id"] == "req-correlation-42"
    assert warning["account"] == "acme"
    assert warning["key_id"] == auth.key_id_for(keys["acme"])


def test_keys_are_stored_only_as_hashes(keys):
    created = _keys_call("POST", "/v1/keys", keys["acme"], {"scopes": ["stats:read"]})["json"]
    secrets = {**keys, "created": created["secret"]}
    client = boto3.client("dynamodb")
    items = client.scan(TableName=get_settings().keys_table)["Items"]
    assert len(items) == len(secrets)
    raw = json.dumps(items)
    events = json.dumps(client.scan(TableName=get_settings().events_table)["Items"])
    for secret in secrets.values():
        assert secret not in raw
        assert secret[3:] not in raw
        assert secret not in events
    allowed = {"key_id", "account", "scopes", "digest", "name", "created_at", "revoked_at"}
    digests = {item["digest"]["S"]: item for item in items}
    for secret in secrets.values():
        item = digests[hashlib.sha256(secret.encode()).hexdigest()]
        assert set(item) <= allowed
        assert item["key_id"]["S"] == auth.key_id_for(secret)


def test_secrets_carry_at_least_128_bits_of_entropy(keys):
    issued = [
        _keys_call("POST", "/v1/keys", keys["acme"], {"scopes": ["stats:read"]})["json"]["secret"]
        for _ in range(4)
    ]
    samples = issued + [auth.generate_secret() for _ in range(2000)]
    assert len(set(samples)) == len(samples)
    bodies = [secret.removeprefix(auth.SECRET_PREFIX) for secret in samples]
    assert all(secret.startswith(auth.SECRET_PREFIX) for secret in samples)
    assert all(set(body) <= BASE64URL for body in bodies)
    length = min(len(body) for body in bodies)
    # Every position but the last (which carries the leftover bits) uses the whole alphabet
    # evenly: the measured entropy per character times the length must reach 128 bits.
    symbols = Counter(char for body in bodies for char in body[: length - 1])
    total = sum(symbols.values())
    per_char = -sum(n / total * math.log2(n / total) for n in symbols.values())
    assert per_char > 5.95
    assert per_char * (length - 1) >= 128


@pytest.mark.parametrize("secret", ["", "tk_", "Bearer", "tk_" + "x" * 500])
def test_malformed_keys_are_401(keys, secret):
    route = read_routes()[0]
    assert call_route(route, None, headers={"X-API-KEY": secret})["statusCode"] == 401
