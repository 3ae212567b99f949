"""Throughput of the production server for `/` and the model weights, measured with wrk on 127.0.0.1.

    apt-get install -y wrk                                   # the load generator (C, so it is not the bottleneck)
    .venv/bin/python bench/load.py                           # 1, 64 and 256 connections, 10 s each
    .venv/bin/python bench/load.py --connections 64 --stock  # the same app under waitress' stock settings

Starts `python server.py` itself on a free loopback port (bench/attack.py's production_server) and prints a
Markdown table. wrk keeps its connections alive, as browsers do. The load generator shares the machine's cores with
the server, so the figures are a floor for the server alone.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.attack import production_server, raise_descriptor_limit, weights_path  # noqa: E402

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, connections: int, seconds: int) -> dict:
    threads = max(1, min(connections, os.cpu_count() or 1))
    output = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                            capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE))
    errors = re.findall(r"(Non-2xx or 3xx responses: \d+|Socket errors: [^\n]+)", output)
    return {
        "rate": float(rate.group(1)) if rate else 0.0,
        "requests/s": f"{float(rate.group(1)):,.0f}" if rate else "?",
        "p50": _ms(latency.get("50")), "p99": _ms(latency.get("99")),
        "errors": "; ".join(errors) or "none",
    }


def _ms(value: str | None) -> str:
    if not value:
        return "?"
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()
    return f"{float(number) * UNITS[unit]:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 64, 256])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--stock", action="store_true", help="waitress-serve with its stock settings instead")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("error: wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    raise_descriptor_limit(4096)
    load_before = os.getloadavg()[0]
    with production_server(stock=args.stock) as server:
        paths = {"/": "/", "weights (1.38 MB)": weights_path(server.port)}
        rows = []
        for label, path in paths.items():
            for connections in args.connections:
                cpu_before, started = cpu_seconds(server.process.pid), time.monotonic()
                figures = wrk(f"http://127.0.0.1:{server.port}{path}", connections, args.seconds)
                cores = (cpu_seconds(server.process.pid) - cpu_before) / (time.monotonic() - started)
                # CPU per request depends far less on what else runs on the machine than requests/s does.
                rate = figures["rate"]
                figures["server CPU"] = f"{cores:.2f} cores, {cores / rate * 1000:.2f} ms/request" if rate else "?"
                rows.append((label, connections, figures))
                print(f"  {label} @ {connections}: {figures}", file=sys.stderr, flush=True)
    print(f"{'waitress-serve, stock settings' if args.stock else 'python server.py'}, {os.cpu_count()} cores, "
          f"wrk {args.seconds} s per row, 1-minute load average before: {load_before:.1f}\n")
    print("| path | connections | requests/s | p50 | p99 | server CPU | errors |")
    print("|---|---:|---:|---:|---:|---|---|")
    for label, connections, figures in rows:
        print(f"| {label} | {connections} | {figures['requests/s']} | {figures['p50']} | {figures['p99']} | "
              f"{figures['server CPU']} | {figures['errors']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
