"""``url`` inputs of ``summarizer serve`` (#14): refused unless ``--allow-url``, and
even then only public addresses, on every hop (summarizer/serve/ssrf.py).

Tests can reach 127.0.0.1 only, so "a public page" is a made-up host name that a
test resolver maps to 127.0.0.1, which the policy is told to trust; every other
loopback address (127.0.0.2) stays refused, as do the private, link-local and
metadata addresses the pages redirect to, which are refused before any connection
is tried (the network guard of tests/conftest.py would fail the test otherwise).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from summarizer.deadline import DeadlineTransport
from summarizer.errors import UrlRefusedError
from summarizer.serve.app import create_app
from summarizer.serve.auth import KeyRing, add_key
from summarizer.serve.config import ServeConfig
from summarizer.serve.ssrf import Resolver, UrlPolicy
from tests.pageserver import Page, PageServer, redirect
from tests.test_serve import SEED_TEXT, error_of, seed_page

HOME = (ipaddress.ip_network("127.0.0.1/32"),)


def resolver(names: dict[str, list[list[str]]], calls: list[str]) -> Resolver:
    """Each name's answers in turn (the last one repeats); IP literals as themselves."""

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host in names:
            answers = names[host]
            return answers.pop(0) if len(answers) > 1 else answers[0]
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    return resolve


@pytest.fixture(scope="module")
def page_server() -> Iterator[PageServer]:
    """One for the module: stopping one takes half a second."""
    with PageServer({"/story": Page(seed_page(SEED_TEXT).encode())}) as server:
        yield server


@pytest.fixture
def pages(page_server: PageServer) -> PageServer:
    page_server.requests.clear()
    return page_server


@asynccontextmanager
async def fetching(tmp_path: Path, policy: UrlPolicy) -> AsyncIterator[httpx.AsyncClient]:
    key = add_key(tmp_path / "keys.toml", "alice")
    config = ServeConfig(keys=KeyRing.load(tmp_path / "keys.toml"), allow_url=True,
                         url_policy=policy)  # fmt: skip
    app = create_app(config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=30,
                                 base_url="http://serve.test",
                                 headers={"authorization": f"Bearer {key}"}) as client:  # fmt: skip
        yield client
    await app.state.service.aclose()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"), ("127.0.0.2", "loopback"), ("::1", "loopback"),
        ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
        ("fc00::1", "private"), ("169.254.169.254", "the cloud metadata address"),
        ("169.254.1.1", "link-local"), ("fe80::1", "link-local"), ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a public address"), ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "metadata"), ("2002:a00:1::", "private"),
    ],
)  # fmt: skip
def test_the_policy_refuses_every_non_public_address(address: str, kind: str) -> None:
    reason = UrlPolicy().refusal(address)
    assert reason is not None
    assert kind in reason


def test_the_policy_allows_public_and_trusted_addresses() -> None:
    for public in ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"):
        assert UrlPolicy().refusal(public) is None
    assert UrlPolicy(trusted=HOME).refusal("127.0.0.1") is None
    assert UrlPolicy(trusted=HOME).refusal("127.0.0.2") is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/story",
        "http://[::1]:{port}/story",
        "http://2130706433:{port}/story",  # 127.0.0.1 as one number
        "http://10.0.0.1/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://localhost:{port}/story",
    ],
)
async def test_urls_to_private_addresses_are_refused(
    tmp_path: Path, pages: PageServer, url: str
) -> None:
    async with fetching(tmp_path, UrlPolicy()) as client:
        response = await client.post("/v1/summaries", json={"url": url.format(port=pages.port)})
    assert response.status_code == 403, response.text
    error = error_of(response)
    assert (error["type"], error["exit_code"]) == ("UrlRefusedError", 25)
    assert "this service fetches public addresses only" in error["message"]
    assert pages.requests == []  # refused before connecting


async def test_a_public_page_is_fetched_and_summarized(tmp_path: Path, pages: PageServer) -> None:
    calls: list[str] = []
    policy = UrlPolicy(resolve=resolver({"news.test": [["127.0.0.1"]]}, calls), trusted=HOME)
    url = f"http://news.test:{pages.port}/story"
    async with fetching(tmp_path, policy) as client:
        response = await client.post("/v1/summaries", json={"url": url})
    assert response.status_code == 200, response.text
    meta = response.json()["meta"]["input"]
    assert (meta["kind"], meta["final_url"], meta["status"]) == ("url", url, 200)
    assert calls == ["news.test"]
    assert pages.requests[0]["host"] == f"news.test:{pages.port}"


@pytest.mark.parametrize(
    ("target", "named"),
    [
        ("http://10.0.0.1/admin", "10.0.0.1: a private address"),
        ("http://127.0.0.2:{port}/story", "127.0.0.2: a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "the cloud metadata address"),
        ("http://intranet.test/", "intranet.test (192.168.0.10): a private address"),
        ("http://mixed.test:{port}/story", "mixed.test (10.0.0.1): a private address"),
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(
    tmp_path: Path, pages: PageServer, target: str, named: str
) -> None:
    pages.routes["/moved"] = redirect(target.format(port=pages.port))
    names: dict[str, list[list[str]]] = {
        "news.test": [["127.0.0.1"]], "intranet.test": [["192.168.0.10"]],
        "mixed.test": [["127.0.0.1", "10.0.0.1"]],  # one refused address refuses the name
    }  # fmt: skip
    policy = UrlPolicy(resolve=resolver(names, []), trusted=HOME)
    async with fetching(tmp_path, policy) as client:
        response = await client.post(
            "/v1/summaries", json={"url": f"http://news.test:{pages.port}/moved"}
        )
    assert response.status_code == 403, response.text
    message = error_of(response)["message"]
    assert message.startswith(f"http://news.test:{pages.port}/moved: refused to connect to ")
    assert named in message
    assert len(pages.requests) == 1  # the redirect only: the target was never reached


async def test_dns_rebinding_cannot_swap_the_checked_address(
    tmp_path: Path, pages: PageServer
) -> None:
    """The name resolves to a trusted address once, then to a private one: the
    connection goes to the address that was checked, not to a second lookup."""
    calls: list[str] = []
    names = {"rebind.test": [["127.0.0.1"], ["10.0.0.1"]]}
    policy = UrlPolicy(resolve=resolver(names, calls), trusted=HOME)
    async with fetching(tmp_path, policy) as client:
        response = await client.post(
            "/v1/summaries", json={"url": f"http://rebind.test:{pages.port}/story"}
        )
    assert response.status_code == 200, response.text
    assert calls == ["rebind.test"]  # and the system resolver, which knows no such name, never


def test_the_transport_fails_closed_without_its_connection_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = DeadlineTransport.__init__

    def without_pool(self: DeadlineTransport, **kwargs: Any) -> None:
        built(self, **kwargs)
        self._pool.close()  # type: ignore[attr-defined]
        del self._pool  # type: ignore[attr-defined]

    monkeypatch.setattr(DeadlineTransport, "__init__", without_pool)
    with pytest.raises(UrlRefusedError, match="cannot be checked"):
        UrlPolicy().transport()
