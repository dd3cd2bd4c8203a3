"""Fixtures for the real-client suite: a logged-in python-3parclient per array.

The Rust test `wsapi::python_client` starts `storeserv-sim serve` and passes its URLs in
SIM_PRIMARY_URL / SIM_BACKUP_URL; run by hand the same way (see docs/wsapi.md).
"""
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
