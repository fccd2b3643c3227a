"""``python -m dbchat_magic.simulator --port N``: run the simulator until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import threading

from dbchat_magic.simulator._server import Simulator
from dbchat_magic.simulator._stream import CHUNKINGS


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve, print the URL and token, and wait for Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m dbchat_magic.simulator",
        description="Run a local Databricks Model Serving simulator.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free)")
    parser.add_argument("--token", default="sim-token", help="bearer token to accept")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a token")
    parser.add_argument(
        "--tokens-per-second", type=float, default=None, help="pacing (default: unpaced)"
    )
    parser.add_argument(
        "--first-token-delay", type=float, default=0.0, help="seconds before the first token"
    )
    parser.add_argument(
        "--chunking", choices=CHUNKINGS, default="event", help="how events map to writes"
    )
    parser.add_argument("--reply-tokens", type=int, default=60, help="tokens in the default answer")
    parser.add_argument("--idle-timeout", type=float, default=None,
                        help="close keep-alive connections idle this many seconds")
    args = parser.parse_args(argv)
    try:
        sim = Simulator(
            token=None if args.no_auth else args.token,
            tokens_per_second=args.tokens_per_second,
            first_token_delay=args.first_token_delay,
            chunking=args.chunking,
            reply_tokens=args.reply_tokens,
            idle_timeout=args.idle_timeout,
            port=args.port,
        ).start()
    except (OSError, ValueError) as exc:
        print(f"simulator: cannot start: {exc}", file=sys.stderr)
        return 2
    print(f"DATABRICKS_HOST={sim.url}", flush=True)
    if sim.token:
        print(f"DATABRICKS_TOKEN={sim.token}", flush=True)
    print(f"endpoints: {', '.join(sim.endpoints)}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
