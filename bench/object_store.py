"""Benchmark the DICOM object store: local folder and S3 (moto's server) against plain boto3, same run.

Usage: `python bench/object_store.py [--files 12] [--mb 8] [--large-mb 80] [--rounds 3]`

Writes the same mammogram-sized files through (a) our local store (temp, fsync, link, fsync
folder), (b) our S3 store (sha256 into the metadata, then one PutObject or a multipart upload),
and (c) the reference: boto3's `upload_file` of the same bytes into the same server (what
`aws s3 cp` does: no hash, no existence check). Then indexes headers from S3 with ranged reads
against downloading each object whole. Medians of the rounds; the ratio to the reference is the
figure to compare (moto is a Python server on the same 2 cores: absolute MB/s mean little).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3

from emr_core.dicom.header import read_header, read_header_bytes, read_header_stream
from emr_core.objectstore import S3ObjectStore, object_store
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus

MB = 1024 * 1024


@contextmanager
def moto(log: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = Path(sys.executable).parent / "moto_server"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def write_payloads(folder: Path, count: int, mb: int, large_mb: int) -> list[Path]:
    folder.mkdir(parents=True)
    sizes = [mb] * count + ([large_mb] if large_mb else [])
    return [_payload(folder / f"f{i}.bin", size * MB) for i, size in enumerate(sizes)]


def _payload(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def bench_puts(args: argparse.Namespace, work: Path, endpoint: str) -> None:
    files = write_payloads(work / "payload", args.files, args.mb, args.large_mb)
    total = sum(p.stat().st_size for p in files) / MB
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    )
    results: dict[str, list[float]] = {"local store": [], "S3 store": [], "boto3 upload_file (reference)": []}
    for round_ in range(args.rounds):
        bucket = f"bench-{round_}"
        client.create_bucket(Bucket=bucket)
        local = object_store(_settings(work / f"local-{round_}", None, endpoint))
        s3 = object_store(_settings(work / "s3", f"s3://{bucket}/ours", endpoint))
        results["local store"].append(timed(lambda: [local.put_file(f"k/{p.name}", p) for p in files]))  # noqa: B023
        results["S3 store"].append(timed(lambda: [s3.put_file(f"k/{p.name}", p) for p in files]))  # noqa: B023
        reference = timed(
            lambda: [client.upload_file(str(p), bucket, f"ref/{p.name}") for p in files]  # noqa: B023
        )
        results["boto3 upload_file (reference)"].append(reference)
        shutil.rmtree(work / f"local-{round_}")
    ref = statistics.median(results["boto3 upload_file (reference)"])
    print(f"puts: {len(files)} files, {total:.0f} MB, {args.rounds} rounds (medians)")
    for label, times in results.items():
        median = statistics.median(times)
        print(f"  {label:32s} {median:7.2f} s  {total / median:8.1f} MB/s  x{median / ref:5.2f} of reference time")


def bench_headers(args: argparse.Namespace, work: Path, endpoint: str) -> None:
    options = CorpusOptions(patients=args.patients, seed=3, prior_fraction=0.0, columns=1664, rows=2048)
    generate_corpus(work / "corpus", options)  # 6.8 MB images (a full-field mammogram is ~4x that)
    files = sorted((work / "corpus" / "dicom").rglob("*.dcm"))
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    ).create_bucket(Bucket="headers")
    store = object_store(_settings(work / "h", "s3://headers", endpoint))
    assert isinstance(store, S3ObjectStore)
    stored = [store.put_file(p.name, p) for p in files]
    size = sum(s.size for s in stored) / MB

    fetched = [0]
    fetch = store.fetch_range

    def counted(key: str, start: int, length: int) -> tuple[bytes, int]:
        data, total = fetch(key, start, length)
        fetched[0] += len(data)
        return data, total

    store.fetch_range = counted  # type: ignore[method-assign]

    def ranged() -> None:
        for s in stored:
            with store.open(s.key) as fp:
                read_header_stream(fp, s.size, s.location)

    def whole() -> None:
        for s in stored:
            body = store.client.get_object(Bucket="headers", Key=s.key)["Body"].read()
            read_header_bytes(body, s.location)

    local = statistics.median(timed(lambda: [read_header(p) for p in files]) for _ in range(args.rounds))
    by_range = statistics.median(timed(ranged) for _ in range(args.rounds))
    per_object_kb = fetched[0] / args.rounds / len(stored) / 1024
    by_get = statistics.median(timed(whole) for _ in range(args.rounds))
    print(f"header indexing: {len(files)} mammograms, {size:.0f} MB in S3 (medians)")
    print(f"  local files                      {local:7.2f} s")
    print(
        f"  S3, ranged reads (ours)          {by_range:7.2f} s  x{by_range / by_get:5.2f} of whole-object time, "
        f"{per_object_kb:.0f} KB read per object"
    )
    print(f"  S3, whole object GET (reference) {by_get:7.2f} s")


def _settings(home: Path, url: str | None, endpoint: str) -> Settings:
    return Settings(
        home=home, storage_url=url, s3_endpoint_url=endpoint, s3_access_key_id="k", s3_secret_access_key="s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--mb", type=int, default=8, help="size of each file")
    parser.add_argument("--large-mb", type=int, default=80, help="one more file this large (multipart); 0: none")
    parser.add_argument("--patients", type=int, default=4, help="synthetic patients for header indexing")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sgm-bench-objects-") as tmp:
        work = Path(tmp)
        with moto(work / "moto.log") as endpoint:
            bench_puts(args, work, endpoint)
            bench_headers(args, work, endpoint)


if __name__ == "__main__":
    main()
