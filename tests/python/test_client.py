"""The real python-3parclient against the simulator: each test drives one client workflow and
checks what the client returns (spec docs/wsapi.md lists the coverage)."""
import time

import pytest
from hpe3parclient import exceptions


def test_login_logout_and_version(cl, backup):
    assert cl.getWsApiVersion()["build"] == 30301460
    assert cl.getStorageSystemInfo()["id"] != backup.getStorageSystemInfo()["id"]
    assert cl.getWSAPIConfigurationInfo()["httpState"] == "Enabled"
    assert cl.getOverallSystemCapacity()["allCapacity"]["totalMiB"] > 0
    with pytest.raises(exceptions.HTTPForbidden):
        from hpe3parclient import client
        other = client.HPE3ParClient(cl.api_url)
        other.login("3paradm", "wrong")


def test_cpgs(cl, cpg, uid):
    assert cl.getCPG(cpg)["domain"] == "UNIT_TEST_DOMAIN"
    assert any(c["name"] == cpg for c in cl.getCPGs()["members"])
    assert cl.getCPGAvailableSpace(cpg)["usableFreeMiB"] > 0
    with pytest.raises(exceptions.HTTPConflict):
        cl.createCPG(cpg)
    with pytest.raises(exceptions.HTTPNotFound):
        cl.createCPG(f"X-{uid}", {"domain": "NO_SUCH_DOMAIN"})
    with pytest.raises(exceptions.HTTPBadRequest):
        cl.createCPG(f"X-{uid}", {"domainBad": "x"})
    cl.deleteCPG(cpg)
    with pytest.raises(exceptions.HTTPNotFound):
        cl.getCPG(cpg)
    cl.getCPGStatData(cpg)  # the client's broken URL must give a plain 404, swallowed by the client


def test_volumes_grow_rename_metadata(cl, cpg, uid):
    name, renamed = f"V-{uid}", f"R-{uid}"
    cl.createVolume(name, cpg, 512, {"snapCPG": cpg, "tpvv": True, "comment": "c1"})
    assert cl.getVolume(name)["sizeMiB"] == 512
    with pytest.raises(exceptions.HTTPConflict):
        cl.createVolume(name, cpg, 512)
    with pytest.raises(exceptions.HTTPBadRequest):
        cl.createVolume(name, cpg, 512, {"badPram": True})
    cl.growVolume(name, 1)
    assert cl.getVolume(name)["sizeMiB"] > 512
    cl.setVolumeMetaData(name, "k1", "v1")
    cl.setVolumeMetaData(name, "k1", "v2")  # existing key: the client PUTs after a 409
    assert cl.getVolumeMetaData(name, "k1")["value"] == "v2"
    assert cl.findVolumeMetaData(name, "k1", "v2")
    cl.modifyVolume(name, {"newName": renamed})
    vol = cl.getVolume(renamed)
    assert vol["comment"] == "c1"
    assert cl.getAllVolumeMetaData(renamed)["total"] == 1
    cl.removeVolumeMetaData(renamed, "k1")
    assert cl.getAllVolumeMetaData(renamed) == {"total": 0, "members": []}
    with pytest.raises(exceptions.HTTPNotFound):
        cl.getVolume(name)
    cl.deleteVolume(renamed)
    with pytest.raises(exceptions.HTTPNotFound):
        cl.deleteVolume(renamed)


def test_snapshots_and_promote(cl, cpg, uid):
    name = f"V-{uid}"
    cl.createVolume(name, cpg, 1024, {"snapCPG": cpg, "tpvv": True})
    cl.createSnapshot(f"S1-{uid}", name, {"readOnly": True})
    cl.createSnapshot(f"S2-{uid}", name, {"readOnly": False, "expirationHours": 2})
    assert cl.getVolumeSnapshots(name) == [f"S1-{uid}", f"S2-{uid}"]
    assert cl.getVolumeSnapshots("BAD_VOL") == []
    snap = cl.getVolume(f"S1-{uid}")
    assert snap["copyOf"] == name and snap["copyType"] == 3 and snap["readOnly"]
    task = cl.promoteVirtualCopy(f"S1-{uid}", {"online": True})
    assert cl.getTask(task["taskid"])["type"] == 4
    with pytest.raises(exceptions.HTTPBadRequest):
        cl.getTask(-1)
    with pytest.raises(exceptions.HTTPBadRequest):
        cl.getTask("nonIntTask")
    with pytest.raises(exceptions.HTTPForbidden):
        cl.growVolume(f"S1-{uid}", 1)
    cl.deleteVolume(f"S1-{uid}")
    cl.deleteVolume(f"S2-{uid}")
    cl.deleteVolume(name)


def test_physical_copies_and_tasks(cl, cpg, uid):
    src, dest, online = f"V-{uid}", f"D-{uid}", f"O-{uid}"
    cl.createVolume(src, cpg, 1024, {"snapCPG": cpg, "tpvv": True})
    cl.createVolume(dest, cpg, 1024, {"snapCPG": cpg, "tpvv": True})
    cl.copyVolume(src, dest, cpg)  # offline: onto an existing volume
    assert cl.getVolume(dest)["copyOf"] == src
    with pytest.raises(exceptions.HTTPBadRequest):
        cl.copyVolume(src, dest, cpg, {"tpvv": True})
    cl.copyVolume(src, online, cpg, {"online": True, "tpvv": True})
    assert cl.getVolume(online)["sizeMiB"] == 1024
    assert cl.isOnlinePhysicalCopy(online)
    assert cl.getAllTasks()["members"][0]["name"] == online
    cl.stopOnlinePhysicalCopy(online)  # cancels, waits, deletes the destination
    with pytest.raises(exceptions.HTTPNotFound):
        cl.getVolume(online)
    cl.copyVolume(src, online, cpg, {"online": True, "tpvv": True})
    deadline = time.time() + 10
    while cl.isOnlinePhysicalCopy(online) and time.time() < deadline:
        time.sleep(0.1)
    assert not cl.isOnlinePhysicalCopy(online), "online copies finish after ~0.5 s"
    cl.deleteVolume(online)
    cl.deleteVolume(dest)
    cl.deleteVolume(src)
    assert cl.getAllTasks()["total"] > 0


def test_volume_sets_and_set_snapshot(cl, cpg, uid):
    vol, vs = f"V-{uid}", f"VS-{uid}"
    cl.createVolume(vol, cpg, 1024, {"snapCPG": cpg, "tpvv": True})
    cl.createVolumeSet(vs, domain="UNIT_TEST_DOMAIN", comment="set", setmembers=[vol])
    assert cl.getVolumeSet(vs)["setmembers"] == [vol]
    assert cl.findVolumeSet(vol) == vs
    with pytest.raises(exceptions.HTTPConflict):
        cl.createVolumeSet(vs)
    with pytest.raises(exceptions.HTTPBadRequest):
        cl.getVolumeSet("HostSet-!nval!d")
    cl.createSnapshotOfVolumeSet(f"SS{uid}-@count@", vs, {"expirationHours": 3})
    assert cl.getVolume(f"SS{uid}-0")["copyOf"] == vol
    cl.createQoSRules(vs, {"ioMaxLimit": 1000, "priority": cl.PRIORITY_HIGH})
    assert cl.queryQoSRule(vs)["ioMaxLimit"] == 1000
    cl.modifyQoSRules(vs, {"ioMaxLimit": 2000})
    assert any(r["name"] == vs for r in cl.queryQoSRules()["members"])
    cl.modifyVolumeSet(vs, comment="changed", flashCachePolicy=1)
    assert cl.getVolumeSet(vs)["flashCachePolicy"] == 1
    cl.removeVolumeFromVolumeSet(vs, vol)
    cl.deleteVolumeSet(vs)
    with pytest.raises(exceptions.HTTPNotFound):
        cl.queryQoSRule(vs)
    cl.deleteVolume(f"SS{uid}-0")
    cl.deleteVolume(vol)


def test_hosts_host_sets_and_vluns(cl, cpg, uid):
    host, host2, hs, vol = f"H-{uid}", f"I-{uid}", f"HS-{uid}", f"V-{uid}"
    wwn = "10000000" + uid.upper()
    iqn = f"iqn.1993-08.org.debian:01:{uid}"
    cl.createHost(host, FCWwns=[wwn], optional={"domain": "UNIT_TEST_DOMAIN"})
    cl.createHost(host2, iscsiNames=[iqn], optional={"domain": "UNIT_TEST_DOMAIN"})
    assert cl.getHost(host)["FCPaths"][0]["wwn"] == wwn
    with pytest.raises(exceptions.HTTPBadRequest):
        cl.getHost("B&dHostName")
    with pytest.raises(exceptions.HTTPConflict) as conflict:
        cl.createHost(f"X-{uid}", FCWwns=[wwn])
    assert conflict.value.get_code() == 73
    found = cl.queryHost(wwns=[wwn], iqns=[iqn])
    assert sorted(h["name"] for h in found["members"]) == sorted([host, host2])
    assert cl.createHostSet(hs, domain="UNIT_TEST_DOMAIN", setmembers=[host]) == hs
    assert cl.findHostSet(host) == hs
    with pytest.raises(exceptions.HTTPNotFound) as missing:
        cl.addHostToHostSet(hs, f"nobody-{uid}")
    assert missing.value.get_code() == 17

    cl.createVolume(vol, cpg, 1024, {"snapCPG": cpg, "tpvv": True})
    location = cl.createVLUN(vol, 1, host)
    assert location == f"{vol},1,{host}"
    port = next(p for p in cl.getPorts()["members"] if p["linkState"] == 4 and p["mode"] == 2 and not p.get("device"))
    matched = cl.createVLUN(vol, 2, host, port["portPos"])
    assert matched.startswith(f"{vol},2,{host},")
    auto = cl.createVLUN(vol, hostname=host2, auto=True)
    assert auto.split(",")[1] == "0"
    assert cl.getVLUN(vol)["volumeName"] == vol
    assert all(v["hostname"] == host for v in cl.getHostVLUNs(host))
    with pytest.raises(exceptions.HTTPConflict) as exported:
        cl.deleteHost(host)
    assert exported.value.get_code() == 26
    cl.deleteVLUN(vol, 1, host)
    cl.deleteVLUN(vol, 2, host, port["portPos"])
    cl.deleteVLUN(vol, 0, host2)
    with pytest.raises(exceptions.HTTPNotFound):
        cl.deleteVLUN(vol, 1, host)
    with pytest.raises(exceptions.HTTPConflict) as in_set:
        cl.deleteHost(host)
    assert in_set.value.get_code() == 77
    cl.removeHostFromHostSet(hs, host)
    cl.deleteHostSet(hs)
    cl.modifyHost(host, {"newName": f"N-{uid}"})
    cl.deleteHost(f"N-{uid}")
    cl.deleteHost(host2)
    cl.deleteVolume(vol)


def test_ports(cl):
    ports = cl.getPorts()
    assert ports["total"] == len(ports["members"])
    assert cl.getFCPorts() and cl.getiSCSIPorts() and cl.getIPPorts()
