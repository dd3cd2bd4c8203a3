"""Fixtures for the real-client suite: a logged-in python-3parclient per array.

The Rust test `wsapi::python_client` starts `storeserv-sim serve` and passes its URLs in
SIM_PRIMARY_URL / SIM_BACKUP_URL; run by hand the same way (see docs/wsapi.md).
"""
import base64
import os
import uuid

import pytest
from hpe3parclient import client


def _url(name):
    url = os.environ.get(name)
    if not url:
        pytest.fail(f"{name} is not set: start `storeserv-sim serve --ready-file F` and export the apiUrl from F")
    return url


def _login(url):
    c = client.HPE3ParClient(url)
    c.login(os.environ.get("SIM_USER", "3paradm"), os.environ.get("SIM_PASSWORD", "3pardata"))
    return c


@pytest.fixture
def cl():
    c = _login(_url("SIM_PRIMARY_URL"))
    yield c
    c.logout()


@pytest.fixture
def backup():
    c = _login(_url("SIM_BACKUP_URL"))
    yield c
    c.logout()


@pytest.fixture
def uid():
    """A short unique suffix so tests never collide on names."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def cpg(cl, uid):
    name = f"CPG-{uid}"
    cl.createCPG(name, {"domain": "UNIT_TEST_DOMAIN", "LDLayout": {"HA": 3, "diskPatterns": [{"diskType": 3}]}})
    return name


class Control:
    """The simulator-control API (/sim/v1, docs/wsapi.md) of the array a client is logged in to:
    volume bytes as a host would write and read them, and waiting for Remote Copy syncs in
    virtual time. Real clients never need it; this suite does, to check replicated bytes."""

    def _call(self, client, method, path, **kwargs):
        import requests

        url = client.api_url.replace("/api/v1", "/sim/v1") + path
        headers = {"X-Hp3Par-Wsapi-Sessionkey": client.http.session_key}
        response = requests.request(method, url, headers=headers, timeout=60, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def write(self, client, volume, offset, data):
        body = {"offset": offset, "data": base64.b64encode(data).decode()}
        return self._call(client, "PUT", f"/volumes/{volume}/data", json=body)

    def read(self, client, volume, offset, length):
        answer = self._call(client, "GET", f"/volumes/{volume}/data", params={"offset": offset, "length": length})
        return base64.b64decode(answer["data"])

    def wait_syncs(self, client, timeout_seconds=3600):
        answer = self._call(client, "POST", "/syncs/wait", json={"timeoutSeconds": timeout_seconds})
        assert answer["done"], f"Remote Copy transfers still running: {answer['running']}"
        return answer


@pytest.fixture
def control():
    return Control()


@pytest.fixture
def backup_cpg(backup, uid):
    name = f"CPGB-{uid}"
    backup.createCPG(name, {"domain": "UNIT_TEST_DOMAIN"})
    yield name
    backup.deleteCPG(name)
