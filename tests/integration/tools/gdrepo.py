#!/usr/bin/env python3
"""An independent implementation of geodr's repository records and keys
(docs/repository-format.md), for tests: what a region writer can do without
the key, what the key holder computes, and a format 1 fixture maker.

  gdrepo.py body FILE [FIELD]        the JSON of a record (or one field of it)
  gdrepo.py forge FILE CODE          run CODE on its JSON `j`, then store it
                                     with a plain sha256 trailer (what anyone
                                     who can write to the region can do)
  gdrepo.py reseal ROOT FILE CODE KEYFILE
                                     run CODE on `j`, store it with a valid
                                     MAC (what the key holder can do)
  gdrepo.py edit ROOT FILE CODE [KEYFILE]
                                     run CODE on `j`, store it with the
                                     trailer it had (a MAC needs KEYFILE)
  gdrepo.py to-v1 ROOT INSTANCE KEYFILE
                                     turn an encrypted format 2 instance into
                                     format 1, as geodr 0.2 wrote it
"""
import hashlib
import hmac
import json
import os
import sys

SHA, MAC = "sha256 ", "hmac-sha256 "


def split(text):
    """(json, trailer kind or None, body text)"""
    lines = text.rstrip("\n").rsplit("\n", 1)
    if len(lines) == 2:
        for kind in (SHA, MAC):
            if lines[1].startswith(kind) and len(lines[1]) == len(kind) + 64:
                return json.loads(lines[0]), kind, lines[0] + "\n"
    return json.loads(text), None, text


def load(path):
    with open(path) as f:
        return split(f.read())


def master_key(desc, keyfile):
    with open(keyfile) as f:
        pw = f.readline().rstrip("\n").encode()
    k = desc["kdf"]
    return hashlib.scrypt(pw, salt=bytes.fromhex(k["salt"]), n=k["n"], r=k["r"], p=k["p"],
                          maxmem=1 << 30, dklen=32)


def label(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def record_mac(master, name, body):
    mk = label(master, "geodr record mac")
    return hmac.new(mk, b"geodr-record\0" + name.encode() + b"\0" + body, hashlib.sha256).hexdigest()


def dump(j):
    return json.dumps(j, indent=1, sort_keys=True) + "\n"


def write(path, body, trailer):
    with open(path, "w") as f:
        f.write(body + trailer)


def sha_trailer(body):
    return SHA + hashlib.sha256(body.encode()).hexdigest() + "\n"


def gcm_objects(root, inst, master, convert):
    """Re-encrypts every .gde object of the instance with convert(name,
    data) -> bytes; returns {name: (sha256, size)} of the new objects."""
    out = {}
    for d, _, files in os.walk(os.path.join(root, inst)):
        for fn in files:
            if not fn.endswith(".gde"):
                continue
            path = os.path.join(d, fn)
            name = os.path.relpath(path, root)
            with open(path, "rb") as f:
                data = convert(name, f.read())
            with open(path, "wb") as f:
                f.write(data)
            out[name] = (hashlib.sha256(data).hexdigest(), len(data))
    return out


def gcm_v2_to_v1(master, name, data):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    g = AESGCM(master)
    hdr = bytearray(data[:21])
    assert hdr[:4] == b"GDE1" and hdr[4] == 2, name
    nh = hashlib.sha256(name.encode()).digest()
    pos, i, pts = 21, 0, []
    while True:
        lf = data[pos:pos + 4]
        n = int.from_bytes(lf, "big") & 0x7FFFFFFF
        ct = data[pos + 4:pos + 4 + n + 16]
        iv = bytes(hdr[13:21]) + i.to_bytes(4, "big")
        pts.append((lf, g.decrypt(iv, ct, bytes(hdr) + i.to_bytes(4, "big") + lf + nh)))
        pos += 4 + n + 16
        i += 1
        if int.from_bytes(lf, "big") & 0x80000000:
            break
    hdr[4] = 1
    out = bytearray(hdr)
    for i, (lf, pt) in enumerate(pts):
        iv = bytes(hdr[13:21]) + i.to_bytes(4, "big")
        out += lf + g.encrypt(iv, pt, bytes(hdr) + i.to_bytes(4, "big") + lf)
    return bytes(out)


def to_v1(root, inst, keyfile):
    dpath = os.path.join(root, inst, "instance.json")
    desc, _, _ = load(dpath)
    master = master_key(desc, keyfile)
    new = gcm_objects(root, inst, master, lambda n, d: gcm_v2_to_v1(master, n, d))
    for d, _, files in os.walk(os.path.join(root, inst)):
        for fn in files:
            if fn != "manifest" and not fn.endswith(".segment"):
                continue
            path = os.path.join(d, fn)
            j, _, _ = load(path)
            j["version"] = 1
            base = os.path.relpath(d, root)
            entries = [j] if fn.endswith(".segment") else [j["schema"]] + [
                c for t in j["tables"] for c in t["chunks"]]
            for e in entries:
                sha, size = new[os.path.join(base, e["object"])]
                e["sha256"], e["size"] = sha, size
            body = dump(j)
            write(path, body, sha_trailer(body))
    desc["version"] = 1
    desc.pop("format1", None)
    desc["key-check"] = label(master, "geodr key check").hex()
    write(dpath, json.dumps(desc, indent=2, sort_keys=True) + "\n", "")
    rpath = os.path.join(root, "repo.json")
    with open(rpath) as f:
        repo = json.load(f)
    repo["version"] = 1
    write(rpath, json.dumps(repo, indent=2, sort_keys=True) + "\n", "")


def main(argv):
    cmd = argv[1]
    if cmd == "body":
        j, _, _ = load(argv[2])
        print(json.dumps(j) if len(argv) < 4 else j[argv[3]])
    elif cmd == "forge":
        j, _, _ = load(argv[2])
        exec(argv[3])
        body = dump(j)
        write(argv[2], body, sha_trailer(body))
    elif cmd == "edit" and load(argv[3])[1] != MAC:
        path, code = argv[3], argv[4]
        j, kind, _ = load(path)
        exec(code)
        body = dump(j) if kind else json.dumps(j, indent=2, sort_keys=True) + "\n"
        write(path, body, sha_trailer(body) if kind else "")
    elif cmd in ("reseal", "edit"):
        root, path, code, keyfile = argv[2:6]
        j, _, _ = load(path)
        exec(code)
        name = os.path.relpath(path, root)
        desc, _, _ = load(os.path.join(root, name.split("/")[0], "instance.json"))
        body = dump(j)
        write(path, body, MAC + record_mac(master_key(desc, keyfile), name, body.encode()) + "\n")
    elif cmd == "to-v1":
        to_v1(argv[2], argv[3], argv[4])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
