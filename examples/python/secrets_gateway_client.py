#!/usr/bin/env python3
"""A Python client for secrets-gateway, and the conformance scenario the test suite runs.

Generate the stubs (Debian: apt-get install python3-grpcio python3-grpc-tools):

    /usr/bin/python3 -m grpc_tools.protoc -I proto --python_out=OUT --grpc_python_out=OUT \
        proto/secretsgateway/v1/secrets_gateway.proto

then run with OUT on PYTHONPATH:

    PYTHONPATH=OUT /usr/bin/python3 examples/python/secrets_gateway_client.py get demo/db-password
    PYTHONPATH=OUT /usr/bin/python3 examples/python/secrets_gateway_client.py watch demo/db-password

Against `serve` over TLS: `--ca ca.crt`, plus either a client certificate (`--cert tls.crt --key
tls.key`) or a service-account token file (`--token-file /var/run/secrets/tokens/token`, re-read
on every call, as kubelet rotates it). `get-status` prints the call's gRPC status as one JSON line.

`scenario` prints one JSON line per step; values are reported as SHA-256 digests, never in clear.
"""
import argparse
import hashlib
import json
import sys

import grpc
from google.protobuf import duration_pb2

from secretsgateway.v1 import secrets_gateway_pb2 as pb
from secretsgateway.v1 import secrets_gateway_pb2_grpc as pb_grpc


def value_bytes(secret):
    """The secret's value as bytes, whichever oneof branch carries it."""
    if secret.WhichOneof("value") == "binary_value":
        return secret.binary_value
    return secret.string_value.encode("utf-8")


def describe(secret):
    return {
        "name": secret.name,
        "version_id": secret.version_id,
        "stages": list(secret.version_stages),
        "kind": secret.WhichOneof("value"),
        "sha256": hashlib.sha256(value_bytes(secret)).hexdigest(),
        "region_id": secret.region_id,
    }


def emit(**fields):
    print(json.dumps(fields), flush=True)


def expect_error(stub, request, step):
    try:
        stub.GetSecret(request, timeout=10)
        emit(step=step, ok=False, error="expected an error")
    except grpc.RpcError as e:
        emit(step=step, ok=True, code=e.code().name, details=e.details())


def first_message(stream):
    msg = next(stream)
    if msg.WhichOneof("event") == "secret":
        return {"event": "secret", **describe(msg.secret)}
    return {"event": "heartbeat", "version_id": msg.heartbeat.version_id}


def scenario(stub, args):
    # 1. a text secret
    r = stub.GetSecret(pb.GetSecretRequest(name=args.text_secret), timeout=10)
    emit(step="get-text", ok=True, source=pb.Freshness.Source.Name(r.freshness.source), **describe(r.secret))
    # 2. a binary secret
    r = stub.GetSecret(pb.GetSecretRequest(name=args.binary_secret), timeout=10)
    emit(step="get-binary", ok=True, **describe(r.secret))
    # 3. a missing secret
    expect_error(stub, pb.GetSecretRequest(name=args.missing_secret), "get-missing")
    # 4. a bad name
    expect_error(stub, pb.GetSecretRequest(name="bad name!*", max_staleness=duration_pb2.Duration(seconds=1)), "get-bad-name")
    # 5. watch, let the harness rotate, receive the new version
    stream = stub.WatchSecret(pb.WatchSecretRequest(name=args.text_secret), timeout=60)
    first = first_message(stream)
    emit(step="watch-first", ok=first["event"] == "secret", **first)
    rotated = None
    for msg in stream:
        if msg.WhichOneof("event") == "secret" and msg.secret.version_id != first.get("version_id"):
            rotated = describe(msg.secret)
            break
    stream.cancel()
    emit(step="watch-rotated", ok=rotated is not None, **(rotated or {}))
    # 6. resume: with the current version the first message is a heartbeat; with the old one, the new Secret
    stream = stub.WatchSecret(pb.WatchSecretRequest(name=args.text_secret, last_version_id=rotated["version_id"]), timeout=30)
    m = first_message(stream)
    stream.cancel()
    emit(step="resume-current", ok=m["event"] == "heartbeat" and m["version_id"] == rotated["version_id"], **m)
    stream = stub.WatchSecret(pb.WatchSecretRequest(name=args.text_secret, last_version_id=first["version_id"]), timeout=30)
    m = first_message(stream)
    stream.cancel()
    emit(step="resume-old", ok=m["event"] == "secret" and m["version_id"] == rotated["version_id"], **m)


class TokenFile(grpc.AuthMetadataPlugin):
    """Sends the token file's current content as `authorization: Bearer ...` on every call."""

    def __init__(self, path):
        self.path = path

    def __call__(self, context, callback):
        with open(self.path) as f:
            callback((("authorization", "Bearer " + f.read().strip()),), None)


def open_channel(args):
    if not args.ca:
        return grpc.insecure_channel(args.target)
    read = lambda path: open(path, "rb").read() if path else None
    creds = grpc.ssl_channel_credentials(read(args.ca), read(args.key), read(args.cert))
    if args.token_file:
        creds = grpc.composite_channel_credentials(creds, grpc.metadata_call_credentials(TokenFile(args.token_file)))
    return grpc.secure_channel(args.target, creds)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="127.0.0.1:50051")
    p.add_argument("--ca", help="CA bundle (PEM) that signed the gateway's certificate: use TLS")
    p.add_argument("--cert", help="client certificate (PEM), for mTLS")
    p.add_argument("--key", help="client private key (PEM), for mTLS")
    p.add_argument("--token-file", help="service-account token file, sent as a bearer token")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("get")
    g.add_argument("name")
    g.add_argument("--stage", default="")
    gs = sub.add_parser("get-status")
    gs.add_argument("name")
    w = sub.add_parser("watch")
    w.add_argument("name")
    s = sub.add_parser("scenario")
    s.add_argument("--text-secret", required=True)
    s.add_argument("--binary-secret", required=True)
    s.add_argument("--missing-secret", default="conformance/does-not-exist")
    args = p.parse_args()

    with open_channel(args) as channel:
        stub = pb_grpc.SecretsGatewayServiceStub(channel)
        if args.command == "get-status":
            try:
                r = stub.GetSecret(pb.GetSecretRequest(name=args.name), timeout=10)
                emit(step="get", code="OK", version_id=r.secret.version_id, sha256=hashlib.sha256(value_bytes(r.secret)).hexdigest())
            except grpc.RpcError as e:
                emit(step="get", code=e.code().name, details=e.details())
        elif args.command == "get":
            r = stub.GetSecret(pb.GetSecretRequest(name=args.name, version_stage=args.stage), timeout=10)
            sys.stdout.buffer.write(value_bytes(r.secret) + b"\n")
        elif args.command == "watch":
            for msg in stub.WatchSecret(pb.WatchSecretRequest(name=args.name)):
                if msg.WhichOneof("event") == "secret":
                    print(json.dumps(describe(msg.secret)), flush=True)
        else:
            scenario(stub, args)


if __name__ == "__main__":
    main()
