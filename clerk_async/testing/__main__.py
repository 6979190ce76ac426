"""``python -m clerk_async.testing serve``: run FakeClerk as a standalone server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from ._faults import FAULT_KINDS, Faults
from ._server import FakeClerk


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m clerk_async.testing",
        description="FakeClerk, an in-memory Clerk Backend API (Users) for tests and demos.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a fake Clerk Backend API on loopback")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=8787,
                       help="port to listen on (default: 8787; 0 picks a free port)")
    serve.add_argument("--secret-key", default=None, metavar="KEY",
                       help="the key clients must send (default: a generated sk_test_ key)")
    serve.add_argument("--rate", default=None, metavar="QUOTA",
                       help="instance quota answered with 429 beyond it, e.g. 100/10s "
                       "(default: unlimited)")
    serve.add_argument(
        "--op-rate",
        action="append",
        default=[],
        metavar="OP=QUOTA",
        help="per-operation quota, e.g. CreateUser=20/10s (repeatable)",
    )
    serve.add_argument("--fault-rate", type=float, default=0.0, metavar="P",
                       help="share of requests (0..1) that fail with an injected fault "
                       "(default: 0)")
    serve.add_argument("--fault-kinds", default=",".join(FAULT_KINDS), metavar="KINDS",
                       help=f"comma-separated faults to draw from (default: all: "
                       f"{','.join(FAULT_KINDS)})")
    serve.add_argument("--latency-ms", type=float, default=0.0, metavar="MS",
                       help="extra delay added to every response, in ms (default: 0)")
    serve.add_argument("--seed", type=int, default=0,
                       help="seed for generated ids and faults, for repeatable runs (default: 0)")
    serve.add_argument("--users", type=int, default=0, metavar="N",
                       help="pre-create this many users (default: 0)")
    serve.add_argument("--webhook", action="append", default=[], metavar="URL",
                       help="POST signed user.created/updated/deleted events to URL "
                       "(repeatable; each endpoint's whsec_ secret is printed)")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    op_limits = {}
    for item in args.op_rate:
        op, sep, quota = item.partition("=")
        if not sep:
            raise SystemExit(f"--op-rate wants OP=QUOTA, got {item!r}")
        op_limits[op.strip()] = quota.strip()
    faults = None
    if args.fault_rate or args.latency_ms:
        faults = Faults(
            rate=args.fault_rate,
            kinds=tuple(args.fault_kinds.split(",")),
            latency_ms=args.latency_ms,
            seed=args.seed,
        )
    fake = FakeClerk(
        secret_key=args.secret_key,
        rate_limit=args.rate,
        operation_limits=op_limits,
        faults=faults,
        seed=args.seed,
        host=args.host,
        port=args.port,
    )
    for i in range(args.users):
        fake.store.add_user(
            email_address=f"user{i}@example.com", first_name="User", last_name=str(i)
        )
    secrets = [(url, fake.add_webhook_endpoint(url)) for url in args.webhook]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    async with fake:
        # The user chose this key (or it is a throwaway test key), so it is printed
        # in full: the point is to paste it into a client.
        print(f"FakeClerk base_url: {fake.base_url}", flush=True)
        print(f"FakeClerk secret_key: {fake.secret_key}", flush=True)
        print(
            f"FakeClerk control: {fake.root_url}/__fake__/stats, POST /__fake__/reset", flush=True
        )
        for url, secret in secrets:
            # A throwaway secret made for this run: printed so the receiver can use it.
            print(f"FakeClerk webhook: {url} secret: {secret}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except ValueError as exc:  # bad quota or fault settings
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
