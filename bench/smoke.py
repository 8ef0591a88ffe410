# SPDX-License-Identifier: MIT
"""bench/compare.py --smoke: the tooling works end to end (CTest bench.smoke).

For every system that can run here (nchan only when nginx and its module
are installed), a few subscribers on a few channels get an exact number of
publishes; the check is that every subscriber got every event, each with a
publish timestamp the client could read, with no error and no failed
connection.  For statusbus, the ingest path too: the bridge counts the
publishes in messages_in.  Counts only: no rate or latency is asserted.
"""

import time

import benchlib as bl

CONNS, CHANNELS, MESSAGES = 40, 4, 40


def wait_events(subs, want, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        s = subs.stat()
        if s["events"] >= want or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # nothing more may follow
    return s, subs.stat()


def check(name, cond, what, failures):
    print(f"  {'ok  ' if cond else 'FAIL'} {name}: {what}", flush=True)
    if not cond:
        failures.append(f"{name}: {what}")


def fanout(args, system, binary, failures):
    subs = bl.Subscribers(binary, system.sub_args() + ["--conns", str(CONNS), "--channels",
                          str(CHANNELS)], system.workdir, args.load_cpus)
    try:
        subs.wait_subscribed(CONNS, 60)
        if system.bridge_pid():
            system.bridge.wait_subscribed()
        pub = bl.Publisher(binary, system.pub_args() + [
            "--rate", "200", "--count", str(MESSAGES), "--channels", str(CHANNELS)],
            args.load_cpus)
        p = pub.result()
        want = MESSAGES * CONNS // CHANNELS
        s, lat = wait_events(subs, want)
        check(system.name, p["acked"] == p["sent"] == MESSAGES,
              f"publisher sent {p['sent']}, acknowledged {p['acked']}", failures)
        check(system.name, s["events"] == want and lat["events"] == want,
              f"{s['events']} events delivered, {want} expected", failures)
        check(system.name, s["lat_n"] + lat["lat_n"] == want,
              f"{s['lat_n'] + lat['lat_n']} publish timestamps read", failures)
        check(system.name, s["errors"] == s["failed"] == s["closed"] == 0,
              f"{s['errors']} errors, {s['failed']} failed, {s['closed']} closed", failures)
    finally:
        rc = subs.quit()
    check(system.name, rc == 0, f"sb-loadgen sub exit code {rc}", failures)


def ingest(args, system, binary, failures):
    subs = bl.Subscribers(binary, system.sub_args() + [
        "--conns", "1", "--channels", "1", "--channel", "team.ing{c}"],
        system.workdir, args.load_cpus)
    try:
        subs.wait_subscribed(1, 30)
        system.bridge.wait_subscribed()
        m0 = system.messages_in()
        pub = bl.Publisher(binary, system.pub_args() + [
            "--rate", "0", "--count", "200", "--channels", "1",
            "--topic", "team/ing{c}/app/{u}/status"], args.load_cpus)
        p = pub.result()
        s, _ = wait_events(subs, 200)
        m = system.messages_in() - m0
        check(system.name, p["acked"] == 200 and s["events"] == 200 and m >= 200,
              f"ingest: 200 published, {p['acked']} acknowledged, {m:.0f} in messages_in, "
              f"{s['events']} delivered", failures)
    finally:
        subs.quit()


def run(args, binary):
    import tempfile
    names = ["statusbus", "statusbus-pusher", "mosquitto-ws", "nchan"]
    failures = []
    for n in names:
        cls = bl.SYSTEMS[n]
        if n == "nchan" and not cls.available():
            print("  skip nchan: nginx or libnginx-mod-nchan not installed "
                  "(scripts/bench-setup.sh)", flush=True)
            continue
        with tempfile.TemporaryDirectory(prefix=f"sbsmoke-{n}-") as d:
            system = cls(d, CONNS, args.server_cpus)
            system.start()
            try:
                fanout(args, system, binary, failures)
                if cls.ingest:
                    ingest(args, system, binary, failures)
            finally:
                system.stop()
    if failures:
        print("bench smoke: FAILED\n  " + "\n  ".join(failures), flush=True)
        return 1
    print("bench smoke: ok", flush=True)
    return 0
