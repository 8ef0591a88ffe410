#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Watch statusbus channels from a shell: connects to the bridge's WebSocket
(statusbus.v1), says hello with a token, subscribes to the channels given
and prints every frame it receives, one per line, until Ctrl-C.

  examples/simulator/watch.py ws://127.0.0.1:8080/v1/ws --token-file run/dev.token \\
      team.42 team.42.stats

Uses Debian's python3-websockets.  --raw prints the frames as JSON."""

import argparse
import asyncio
import json
import signal
import sys
import time

import websockets


def show(frame, raw):
    if raw:
        return json.dumps(frame, separators=(",", ":"))
    op = frame.get("op")
    t = time.strftime("%H:%M:%S")
    if op == "event":
        data = json.dumps(frame.get("data"), separators=(",", ":"))
        return (f"{t} {frame.get('channel')} {frame.get('event')} {frame.get('topic', '')}"
                f"{' (retained)' if frame.get('retained') else ''} {data}")
    if op == "batch":
        evs = frame.get("events", [])
        lines = [f"{t} {frame.get('channel')} {frame.get('event')} batch of {len(evs)}"]
        for e in evs:
            if isinstance(e, dict) and "msg" in e:
                lines.append(f"    {e.get('seq', ''):>5} {e.get('level', ''):5} {e['msg']}")
            else:
                lines.append("    " + json.dumps(e, separators=(",", ":")))
        return "\n".join(lines)
    return f"{t} {json.dumps(frame, separators=(',', ':'))}"


async def watch(args, token):
    async with websockets.connect(args.url, subprotocols=["statusbus.v1"],
                                  max_size=2 ** 24, open_timeout=10) as ws:
        hello = {"op": "hello"}
        if token:
            hello["token"] = token
        await ws.send(json.dumps(hello))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
        print(show(welcome, args.raw), flush=True)
        if welcome.get("op") != "welcome":
            return 1
        for i, ch in enumerate(args.channels, 1):
            sub = {"op": "sub", "id": i, "channel": ch}
            if args.since is not None:
                sub["since"] = args.since
            await ws.send(json.dumps(sub))
        heartbeat = max(5, int(welcome.get("heartbeat_s", 25)) - 5)
        ping_id = 1000

        async def pinger():
            nonlocal ping_id
            while True:
                await asyncio.sleep(heartbeat)
                ping_id += 1
                await ws.send(json.dumps({"op": "ping", "id": ping_id}))
        task = asyncio.create_task(pinger())
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("op") == "pong" and not args.raw:
                    continue
                print(show(frame, args.raw), flush=True)
        finally:
            task.cancel()
        print(f"closed: {ws.close_code} {ws.close_reason}", file=sys.stderr)
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url", help="ws://host:port/v1/ws")
    p.add_argument("channels", nargs="+", help="channels, e.g. team.42 deploy.<uuid>.logs")
    p.add_argument("--token", help="JWT (visible to ps: prefer --token-file)")
    p.add_argument("--token-file", help="file holding the JWT")
    p.add_argument("--since", type=int, help="last log seq seen (logs channels)")
    p.add_argument("--raw", action="store_true", help="print frames as JSON")
    args = p.parse_args()
    token = args.token
    if args.token_file:
        with open(args.token_file) as f:
            token = f.read().strip()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        return asyncio.run(watch(args, token))
    except (KeyboardInterrupt, BrokenPipeError):
        return 0
    except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as e:
        print(f"watch.py: {args.url}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
