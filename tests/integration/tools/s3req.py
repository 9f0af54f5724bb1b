#!/usr/bin/env python3
"""A minimal S3 client for the integration tests (Python standard library only).

    s3req.py ENDPOINT METHOD PATH [QUERY] [--body-file F]

Signs the request with AWS Signature Version 4 (region us-east-1, service
s3) using S3_ACCESS_KEY and S3_SECRET_KEY from the environment (never from
argv), sends it path-style, prints the answer body to stdout and exits 0 on
a 2xx answer, 1 otherwise (status and body on stderr).  QUERY is sent as
given ("uploads", "prefix=a/b&max-uploads=10").

Used to create buckets on Ceph RGW and to start and list multipart uploads
the way another client would; geodr's own signer is independent of this one.
"""
import datetime
import hashlib
import hmac
import http.client
import os
import sys
import urllib.parse


def canonical_query(q):
    pairs = []
    for part in q.split("&") if q else []:
        name, _, value = part.partition("=")
        pairs.append((urllib.parse.quote(urllib.parse.unquote(name), safe="-_.~"),
                      urllib.parse.quote(urllib.parse.unquote(value), safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def main():
    args = sys.argv[1:]
    body = b""
    if "--body-file" in args:
        i = args.index("--body-file")
        with open(args[i + 1], "rb") as f:
            body = f.read()
        del args[i:i + 2]
    if len(args) < 3:
        sys.exit("usage: s3req.py ENDPOINT METHOD PATH [QUERY] [--body-file F]")
    endpoint, method, path = args[0], args[1], args[2]
    query = args[3] if len(args) > 3 else ""
    ak, sk = os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"]
    u = urllib.parse.urlsplit(endpoint)
    host = u.netloc
    path = urllib.parse.quote(path, safe="/-_.~")
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    phash = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-content-sha256": phash, "x-amz-date": amz}
    signed = ";".join(sorted(headers))
    creq = "\n".join([method, path, canonical_query(query)] +
                     [f"{k}:{headers[k]}" for k in sorted(headers)] + ["", signed, phash])
    scope = f"{day}/us-east-1/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = sign(("AWS4" + sk).encode(), day)
    for part in ("us-east-1", "s3", "aws4_request"):
        k = sign(k, part)
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, "
                                f"SignedHeaders={signed}, Signature={sig}")
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request(method, path + ("?" + query if query else ""), body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    if 200 <= r.status < 300:
        sys.stdout.buffer.write(data)
        return 0
    sys.stderr.write(f"s3req: {method} {path}?{query}: HTTP {r.status}\n{data.decode(errors='replace')}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
