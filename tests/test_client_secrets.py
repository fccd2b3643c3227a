"""A planted token never shows: not in any result message, repr, exception or log line."""

from __future__ import annotations

import asyncio
import logging

import pytest

from client_helpers import QUESTION, ask
from dbchat_magic.client import ChatClient
from dbchat_magic.config import Settings
from dbchat_magic.errors import DbChatError
from dbchat_magic.simulator import Simulator

TOKEN = "dapi" + "5ec7e7000000000000000000000000ab"  # built: no token-shaped literal


@pytest.fixture
def planted() -> Simulator:
    with Simulator(token=TOKEN) as s:
        yield s


FAULTS = [("401", {}), ("403", {}), ("404", {}), ("429", {"times": 5}), ("503", {"times": 5}),
          ("html502", {"times": 5}), ("disconnect", {}), ("no_done", {}),
          ("error_midstream", {"message": f"token {TOKEN} rejected"}),
          ("400", {"message": f'{{"error": {{"message": "bad header Bearer {TOKEN}"}}}}'}),
          ("malformed_chunk", {})]


def test_token_never_leaks(planted: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    client = ChatClient(Settings(host=planted.url, max_retries=1, retry_backoff=0.01),
                        token=TOKEN)
    shown: list[str] = [repr(client), str(client), client.credential_source]
    with caplog.at_level(logging.DEBUG):
        for fault, params in FAULTS:
            planted.inject(fault, **params)
            r = ask(client)
            planted.clear_faults()
            assert r.status != "completed" or fault == "malformed_chunk", fault
            shown += [r.error or "", repr(r), r._repr_html_(), str(r.extras)]

        async def raising() -> None:
            planted.inject("403")
            async for _ in client.stream(QUESTION):
                pass
        with pytest.raises(DbChatError) as info:
            asyncio.run(raising())
        shown += [str(info.value), repr(info.value)]
    shown.append(caplog.text)
    assert any("bad header Bearer ****" in s for s in shown)  # the server's echo was scrubbed
    assert any("token **** rejected" in s for s in shown)
    for text in shown:
        assert TOKEN not in text
        assert TOKEN[4:20] not in text
