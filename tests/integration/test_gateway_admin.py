"""Ingest's admin side through the real service: the admin API and baton-ingest-admin."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import uuid
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient

from baton_runtime import Document, MongoSettings
from tests.support.gateways import ADMIN, refused
from tests.support.pipeline import Pipeline

CLI = Path(sys.executable).parent / "baton-ingest-admin"


async def test_the_admin_api(pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]) -> None:
    admin = pipeline.ingest
    refused(
        await admin.get("/v1/admin/gateways", headers={"Authorization": ""}), 401, "unauthenticated"
    )
    refused(await admin.get("/v1/admin/gateways"), 401, "invalid_token")  # a gateway key
    body = {"name": "whatsapp bridge", "channels": ["whatsapp"], "require_identity": True}
    created = await admin.post("/v1/admin/gateways", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    gateway = created.json()
    key, gateway_id = gateway["key"], gateway["gateway_id"]
    assert key.startswith("bgw_")
    assert len(gateway["identity_secret"]) == 64
    assert (gateway["channels"], gateway["may_set_routing"], gateway["active"]) == (
        ["whatsapp"],
        False,
        True,
    )

    listed = (await admin.get("/v1/admin/gateways", headers=ADMIN)).json()["gateways"]
    [shown] = [g for g in listed if g["gateway_id"] == gateway_id]
    assert "key" not in shown
    assert "identity_secret" not in shown
    assert (await admin.get(f"/v1/admin/gateways/{gateway_id}", headers=ADMIN)).json() == shown

    stored = await mongo_client[pipeline.mongo.database]["gateways"].find_one({"_id": gateway_id})
    assert stored is not None
    assert stored["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in json.dumps(stored, default=str)

    changed = await admin.patch(
        f"/v1/admin/gateways/{gateway_id}", json={"channels": ["whatsapp", "sms"]}, headers=ADMIN
    )
    assert (changed.json()["channels"], changed.json()["require_identity"]) == (
        ["whatsapp", "sms"],
        True,
    )
    secret = await admin.post(
        f"/v1/admin/gateways/{gateway_id}/rotate-identity-secret", headers=ADMIN
    )
    assert secret.json()["identity_secret"] not in (None, gateway["identity_secret"])
    assert secret.json()["key"] is None

    refused(await admin.get("/v1/admin/gateways/gw-nope", headers=ADMIN), 404, "unknown_gateway")
    for bad in ({"name": "x", "channels": []}, {"name": "", "channels": ["web"]}):
        refused(
            await admin.post("/v1/admin/gateways", json=bad, headers=ADMIN), 422, "invalid_gateway"
        )
    refused(
        await admin.post("/v1/admin/gateways", json={"name": "x"}, headers=ADMIN),
        422,
        "invalid_request",
    )


async def _cli(mongo: MongoSettings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "MONGODB_URL": mongo.url.get_secret_value(),
        "MONGODB_DATABASE": mongo.database,
    }
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_admin_cli(pipeline: Pipeline) -> None:
    name = f"cli {uuid.uuid4().hex[:6]}"
    code, key, err = await _cli(
        pipeline.mongo, "gateways", "create", "--name", name, "--channel", "email"
    )
    assert code == 0, err
    key = key.strip()
    assert key.startswith("bgw_")
    assert "identity_secret (shown only now)" in err
    gateway_id = next(
        line.split(": ")[1] for line in err.splitlines() if line.startswith("gateway_id")
    )

    async with httpx.AsyncClient(
        base_url=pipeline.urls["ingest"], headers={"Authorization": f"Bearer {key}"}
    ) as cli_gateway:
        created = await cli_gateway.post("/v1/threads", json={"user_id": "u1"})
        assert created.status_code == 201, created.text

        code, listed, _ = await _cli(pipeline.mongo, "--json", "gateways", "list")
        assert code == 0
        [mine] = [g for g in json.loads(listed) if g["gateway_id"] == gateway_id]
        assert (mine["name"], mine["channels"], mine["active"]) == (name, ["email"], True)

        code, rotated, _ = await _cli(
            pipeline.mongo, "--json", "gateways", "rotate-key", gateway_id
        )
        assert code == 0
        assert json.loads(rotated)["key"].startswith("bgw_")
        refused(await cli_gateway.post("/v1/threads", json={"user_id": "u1"}), 401, "invalid_key")

        code, _, _ = await _cli(
            pipeline.mongo,
            "gateways",
            "update",
            gateway_id,
            "--channel",
            "sms",
            "--may-set-routing",
        )
        assert code == 0
        code, _, _ = await _cli(pipeline.mongo, "gateways", "revoke", gateway_id)
        assert code == 0
        code, _, err = await _cli(pipeline.mongo, "gateways", "rotate-key", gateway_id)
        assert (code, err.strip()) == (
            2,
            "baton-ingest-admin: this gateway is revoked; create a new one",
        )

    code, _, err = await _cli(
        pipeline.mongo, "gateways", "create", "--name", "x", "--channel", "a b"
    )
    assert code == 2
    assert "channels must be" in err
