"""Gateways as an admin manages them: keys shown once, stored hashed, rotated, revoked."""

from __future__ import annotations

import pytest

from baton_ingest.gateways import KEY_PREFIX, InvalidGatewayError, hash_key
from baton_ingest.registry import GatewayRevokedError, Gateways, UnknownGatewayError
from tests.support.ingest_memory import MemoryGateways


async def test_a_new_gateway_gets_a_key_that_is_stored_only_as_a_hash() -> None:
    store = MemoryGateways()
    issued = await Gateways(store).create(" web widget ", ["web", "web"], may_set_routing=True)

    gateway = issued.gateway
    assert (gateway.name, gateway.channels) == ("web widget", ("web",))
    assert (gateway.may_set_routing, gateway.require_identity, gateway.active) == (
        True,
        False,
        True,
    )
    assert issued.key is not None
    assert issued.key.startswith(KEY_PREFIX)
    assert store.key_hashes == {gateway.gateway_id: hash_key(issued.key)}
    assert issued.identity_secret == gateway.identity_secret
    assert issued.identity_secret not in repr(gateway)


async def test_the_key_finds_its_gateway_and_nothing_else_does() -> None:
    gateways = Gateways(MemoryGateways())
    web = await gateways.create("web", ["web"])
    mail = await gateways.create("mail", ["email"])
    assert web.key is not None
    assert mail.key is not None

    assert await gateways.authenticate(web.key) == web.gateway
    assert await gateways.authenticate(mail.key) == mail.gateway
    assert await gateways.authenticate(web.key[:-1]) is None
    assert await gateways.authenticate(hash_key(web.key)) is None
    assert await gateways.authenticate("") is None


async def test_a_rotated_key_replaces_the_old_one_at_once() -> None:
    gateways = Gateways(MemoryGateways())
    created = await gateways.create("web", ["web"])
    assert created.key is not None

    rotated = await gateways.rotate_key(created.gateway.gateway_id)

    assert rotated.key is not None
    assert rotated.key != created.key
    assert rotated.identity_secret is None  # only what was made is shown
    assert await gateways.authenticate(created.key) is None
    assert await gateways.authenticate(rotated.key) == rotated.gateway


async def test_a_revoked_gateway_has_no_working_key_and_cannot_change() -> None:
    gateways = Gateways(MemoryGateways())
    created = await gateways.create("web", ["web"])
    assert created.key is not None
    gateway_id = created.gateway.gateway_id

    revoked = await gateways.revoke(gateway_id)

    assert not revoked.active
    assert await gateways.authenticate(created.key) is None
    with pytest.raises(GatewayRevokedError):
        await gateways.rotate_key(gateway_id)
    with pytest.raises(GatewayRevokedError):
        await gateways.update(gateway_id, may_set_routing=True)
    assert (await gateways.revoke(gateway_id)).active is False  # again: nothing new
    assert [g.active for g in await gateways.all()] == [False]


async def test_channels_and_flags_change_and_the_rest_stays() -> None:
    gateways = Gateways(MemoryGateways())
    created = await gateways.create("web", ["web"])
    gateway_id = created.gateway.gateway_id

    changed = await gateways.update(gateway_id, channels=["web", "email"], require_identity=True)
    assert (changed.channels, changed.require_identity, changed.may_set_routing) == (
        ("web", "email"),
        True,
        False,
    )
    secret = await gateways.rotate_identity_secret(gateway_id)
    assert secret.identity_secret is not None
    assert secret.identity_secret != created.identity_secret
    assert secret.key is None
    assert (await gateways.get(gateway_id)).identity_secret == secret.identity_secret
    with pytest.raises(InvalidGatewayError):
        await gateways.update(gateway_id, channels=[])


async def test_an_unknown_gateway_is_a_404() -> None:
    gateways = Gateways(MemoryGateways())
    for act in (gateways.get, gateways.rotate_key, gateways.revoke, gateways.update):
        with pytest.raises(UnknownGatewayError) as refused:
            await act("gw-nope")
        assert refused.value.status == 404
