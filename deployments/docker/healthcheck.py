#!/usr/bin/env python3
"""Container health checks without curl: an HTTP GET, a TCP connect, or a DICOM C-ECHO."""

from __future__ import annotations

import argparse
import socket
import sys
import urllib.request


def http_ok(url: str, timeout: float) -> bool:
    """True when the URL answers 2xx."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return 200 <= response.status < 300


def tcp_ok(host: str, port: int, timeout: float) -> bool:
    """True when the port accepts a connection."""
    with socket.create_connection((host, port), timeout=timeout):
        return True


def echo_ok(host: str, port: int, called: str, timeout: float) -> bool:
    """True when the DICOM receiver answers a C-ECHO with status Success."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = AE(ae_title="SGM-HEALTH")
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    assoc = ae.associate(host, port, ae_title=called)
    if not assoc.is_established:
        return False
    try:
        status = assoc.send_c_echo()
        return bool(status) and status.Status == 0x0000
    finally:
        assoc.release()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=5.0)
    sub = parser.add_subparsers(dest="kind", required=True)
    sub.add_parser("http").add_argument("url")
    tcp = sub.add_parser("tcp")
    tcp.add_argument("host")
    tcp.add_argument("port", type=int)
    echo = sub.add_parser("echo")
    echo.add_argument("host")
    echo.add_argument("port", type=int)
    echo.add_argument("--called", default="SGM", help="the receiver's AE title")
    args = parser.parse_args(argv)
    try:
        if args.kind == "http":
            healthy = http_ok(args.url, args.timeout)
        elif args.kind == "tcp":
            healthy = tcp_ok(args.host, args.port, args.timeout)
        else:
            healthy = echo_ok(args.host, args.port, args.called, args.timeout)
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    print("healthy" if healthy else "unhealthy")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
