"""Remote Copy across the two simulated arrays with the real python-3parclient, the way the
client's live suite and Cinder drive it: every call below is a client method; the control API
(conftest.Control) only writes and reads volume bytes and waits for syncs in virtual time."""
import pytest
from hpe3parclient import exceptions


def _target(client):
    """The Remote Copy target defined on the array `client` is logged in to (one per array)."""
    _, body = client.http.get("/remotecopytargets")
    assert body["total"] == 1
    return body["members"][0]["name"]


def test_remote_copy_group_sync_failover_restore(cl, backup, cpg, backup_cpg, uid, control):
    group, vol = f"rcg-{uid}", f"RV-{uid}"
    partner = f"{group}.r{cl.getStorageSystemInfo()['id']}"
    target = _target(cl)
    assert target == backup.getStorageSystemInfo()["name"]

    # Create the group: it appears on A, and its partner on B.
    cl.createVolume(vol, cpg, 1024, {"snapCPG": cpg, "tpvv": True})
    cl.createRemoteCopyGroup(
        group,
        [{"targetName": target, "mode": 2, "userCPG": backup_cpg, "snapCPG": backup_cpg}],
        {"localUserCPG": cpg, "localSnapCPG": cpg},
    )
    assert cl.getRemoteCopyGroup(group)["role"] == 1
    assert backup.getRemoteCopyGroup(partner)["role"] == 2
    assert cl.targetInRemoteCopyGroupExists(target, group)
    with pytest.raises(exceptions.HTTPConflict):
        cl.createRemoteCopyGroup(group, [{"targetName": target, "mode": 2}])

    # Add the volume with an automatically created secondary on B.
    cl.addVolumeToRemoteCopyGroup(
        group, vol, [{"targetName": target, "secVolumeName": vol}], optional={"volumeAutoCreation": True}
    )
    secondary = backup.getVolume(vol)
    assert (secondary["sizeMiB"], secondary["rcopyStatus"], secondary["rcopyGroup"]) == (1024, 3, partner)
    assert cl.getVolume(vol)["rcopyStatus"] == 2
    assert cl.getRemoteCopyGroupVolume(group, vol)["remoteVolumes"][0]["remoteVolumeName"] == vol

    # Start: the initial sync runs on the virtual timeline; wait for it.
    cl.startRemoteCopy(group)
    assert cl.remoteCopyGroupStatusStartedCheck(group)
    with pytest.raises(exceptions.HTTPForbidden) as started:
        cl.startRemoteCopy(group)
    assert started.value.get_code() == 215
    control.wait_syncs(cl)
    assert cl.remoteCopyGroupStatusCheck(group), "started and every volume synced"

    # Write through the control API, synchronise, and read the secondary's bytes on B.
    data = bytes(range(256)) * 256
    control.write(cl, vol, 1 << 20, data)
    cl.synchronizeRemoteCopyGroup(group)
    control.wait_syncs(cl)
    assert cl.getRemoteCopyGroup(group)["targets"][0]["groupLastSyncTime"] is not None
    assert control.read(backup, vol, 1 << 20, len(data)) == data

    # Stop, then fail over on the backup (on the partner, through B), as Cinder does.
    cl.stopRemoteCopy(group)
    assert cl.remoteCopyGroupStatusStoppedCheck(group)
    assert backup.remoteCopyGroupStatusStoppedCheck(partner)
    with pytest.raises(exceptions.HTTPForbidden):
        cl.recoverRemoteCopyGroupFromDisaster(group, cl.RC_ACTION_CHANGE_TO_PRIMARY)
    backup.recoverRemoteCopyGroupFromDisaster(partner, backup.RC_ACTION_CHANGE_TO_PRIMARY)
    failed_over = backup.getRemoteCopyGroup(partner)
    assert failed_over["role"] == 3 and failed_over["targets"][0]["roleReversed"] is True
    assert cl.getRemoteCopyGroup(group)["role"] == 1
    assert control.read(backup, vol, 1 << 20, len(data)) == data, "the last synced image"
    on_backup = b"written on the backup while it serves"
    control.write(backup, vol, 0, on_backup)

    # Restore: back to the natural direction, B's writes shipped to A, started again.
    backup.recoverRemoteCopyGroupFromDisaster(partner, backup.RC_ACTION_CHANGE_TO_NATURUAL_DIRECTION)
    control.wait_syncs(backup)
    restored = backup.getRemoteCopyGroup(partner)
    assert restored["role"] == 2 and restored["targets"][0]["roleReversed"] is False
    assert cl.getRemoteCopyGroup(group)["role"] == 1
    assert backup.remoteCopyGroupStatusCheck(partner), "Cinder's fail-back check: started, synced, not reversed"
    assert control.read(cl, vol, 0, len(on_backup)) == on_backup

    # Tear down: stop, dismiss with the secondary volume, remove the group on both arrays.
    cl.stopRemoteCopy(group)
    cl.removeVolumeFromRemoteCopyGroup(group, vol, removeFromTarget=True)
    with pytest.raises(exceptions.HTTPNotFound):
        backup.getVolume(vol)
    cl.removeRemoteCopyGroup(group)
    with pytest.raises(exceptions.HTTPNotFound):
        cl.getRemoteCopyGroup(group)
    with pytest.raises(exceptions.HTTPNotFound):
        backup.getRemoteCopyGroup(partner)
    cl.deleteVolume(vol)


def test_remote_copy_queries_modify_and_mirror_policy(cl, backup, cpg, backup_cpg, uid):
    group, vol = f"rcq-{uid}", f"QV-{uid}"
    partner = f"{group}.r{cl.getStorageSystemInfo()['id']}"
    target = _target(cl)
    assert cl.getRemoteCopyInfo()["status"] == 1
    cl.createVolume(vol, cpg, 1024, {"snapCPG": cpg, "tpvv": True})
    cl.createRemoteCopyGroup(group, [{"targetName": target, "mode": 2, "userCPG": backup_cpg, "snapCPG": backup_cpg}])
    cl.addVolumeToRemoteCopyGroup(
        group, vol, [{"targetName": target, "secVolumeName": vol}],
        optional={"volumeAutoCreation": True}, useHttpPost=True,
    )
    assert any(g["name"] == group for g in cl.getRemoteCopyGroups()["members"])
    assert cl.getRemoteCopyGroupVolumes(group)["total"] == 1
    with pytest.raises(exceptions.HTTPNotFound) as missing:
        cl.getRemoteCopyGroup(f"nope-{uid}")
    assert missing.value.get_code() == 187

    cl.modifyRemoteCopyGroup(group, {"targets": [{"targetName": target, "syncPeriod": 300}]})
    assert cl.getRemoteCopyGroup(group)["targets"][0]["syncPeriod"] == 300
    assert backup.getRemoteCopyGroup(partner)["targets"][0]["syncPeriod"] == 300, "mirrored to the partner"
    with pytest.raises(exceptions.HTTPBadRequest):
        cl.modifyRemoteCopyGroup(group, {"targets": [{"targetName": target, "syncPeriod": 10}]})

    link = cl.getRemoteCopyLink(cl.http.get("/remotecopylinks")[1]["members"][0]["name"])
    assert link["targetName"] == target
    cl.toggleRemoteCopyConfigMirror(target, mirror_config=False)
    assert cl.http.get(f"/remotecopytargets/{target}")[1]["policies"]["mirrorConfig"] is False
    cl.toggleRemoteCopyConfigMirror(target, mirror_config=True)

    cl.removeVolumeFromRemoteCopyGroup(group, vol, optional={"keepSnap": True})
    assert cl.getRemoteCopyGroupVolumes(group) == {"total": 0, "members": []}
    cl.removeRemoteCopyGroup(group, keep_snap=True)
    backup.deleteVolume(vol)
    cl.deleteVolume(vol)
