#!/usr/bin/env python3
"""mkimage.py - write a single-layer OCI image archive (oci-layout + index.json) for
`ctr -n k8s.io images import`, with a static busybox as the only content.

usage: mkimage.py OUT.tar IMAGE_REF BUSYBOX_BINARY [ENTRYPOINT_JSON] [CMD_JSON]

The layer holds /bin/busybox, a symlink /bin/<applet> for every applet of that busybox,
/etc/passwd, /etc/group, /etc/shadow (Peregrine's addition), /tmp, /root and /var. Deterministic (mtime 0), uncompressed.
"""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile


def tarinfo(name, typ=tarfile.REGTYPE, mode=0o644, size=0, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.mode = mode
    ti.size = size
    ti.linkname = linkname
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def build_layer(busybox):
    applets = subprocess.run([busybox, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d, m in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("root", 0o700),
                     ("var", 0o755), ("proc", 0o755), ("sys", 0o755), ("dev", 0o755)):
            tf.addfile(tarinfo(d, tarfile.DIRTYPE, m))
        data = open(busybox, "rb").read()
        tf.addfile(tarinfo("bin/busybox", mode=0o755, size=len(data)), io.BytesIO(data))
        for a in sorted(set(applets)):
            if a == "busybox" or "/" in a:
                continue
            tf.addfile(tarinfo("bin/" + a, tarfile.SYMTYPE, 0o777, linkname="busybox"))
        files = {
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            "etc/group": "root:x:0:\nnogroup:x:65534:\n",
            # Peregrine: a credential file for the sensitive-read rules to see read
            "etc/shadow": "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n",
        }
        for n, c in files.items():
            b = c.encode()
            tf.addfile(tarinfo(n, size=len(b)), io.BytesIO(b))
    return buf.getvalue()


def blob(tf, data):
    d = hashlib.sha256(data).hexdigest()
    tf.addfile(tarinfo("blobs/sha256/" + d, size=len(data)), io.BytesIO(data))
    return "sha256:" + d


def main():
    out, ref, busybox = sys.argv[1:4]
    entrypoint = json.loads(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else None
    cmd = json.loads(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] else ["sh"]
    layer = build_layer(busybox)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": cmd, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "realnode mkimage.py"}],
    }
    if entrypoint:
        config["config"]["Entrypoint"] = entrypoint
    tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else "latest"
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(tarinfo("blobs", tarfile.DIRTYPE, 0o755))
        tf.addfile(tarinfo("blobs/sha256", tarfile.DIRTYPE, 0o755))
        cfg = json.dumps(config, sort_keys=True).encode()
        cfg_digest = blob(tf, cfg)
        blob(tf, layer)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": cfg_digest, "size": len(cfg)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": len(layer)}],
        }
        mf = json.dumps(manifest, sort_keys=True).encode()
        mf_digest = blob(tf, mf)
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": mf_digest, "size": len(mf),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"io.containerd.image.name": ref,
                                "org.opencontainers.image.ref.name": tag},
            }],
        }
        for name, obj in (("oci-layout", {"imageLayoutVersion": "1.0.0"}), ("index.json", index)):
            b = json.dumps(obj, sort_keys=True).encode()
            tf.addfile(tarinfo(name, size=len(b)), io.BytesIO(b))
    os.replace(tmp, out)
    print(f"{out}: {ref} manifest {mf_digest} layer {layer_digest} ({len(layer)} bytes)")


if __name__ == "__main__":
    main()
