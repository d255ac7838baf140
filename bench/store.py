"""Benchmark C-STORE receive: our receiver against dcmtk storescp, same files, same run.

Usage: `python bench/store.py [--files 40] [--rounds 3] [--columns 1664 --rows 2048] [--no-move]`

dcmtk storescu sends the same N mammograms (TCP_NODELAY=1, 128 KB PDU) into dcmtk storescp
and into `sgm dicom serve` in several configurations (the levers); each round runs every
receiver once, medians are printed with the ratio to storescp from the same rounds. Then the
same for C-MOVE out of an Orthanc. Our receiver fsyncs every file before acknowledging it,
storescp does not. On a shared machine the figures are noisy: compare ratios, not MB/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from emr_core.synthetic.corpus import CorpusOptions, generate_corpus

ENV = {**os.environ, "TCP_NODELAY": "1"}
PDU = "131072"
SGM = [sys.executable, "-c", "from sgm_app.cli import main; main()"]
# Our receiver's levers: (label, extra `sgm dicom serve` arguments).
VARIANTS: tuple[tuple[str, list[str]], ...] = (
    ("sgm: in memory, pynetdicom reads, 16K PDU", ["--in-memory", "--plain-transport", "--max-pdu", "16384"]),
    ("sgm: in memory, pynetdicom reads", ["--in-memory", "--plain-transport"]),
    ("sgm: in memory, recv_into reads", ["--in-memory"]),
    ("sgm: streamed to disk, recv_into reads", ["--no-early-writeback"]),
    ("sgm: streamed, early writeback (default)", []),
    ("sgm: streamed, early writeback, writer thread", ["--writer-thread"]),
)


@dataclass
class Receiver:
    """A receiving process: how to start it and the AE title it answers to."""

    label: str
    ae_title: str
    command: Callable[[int], list[str]]
    env: dict[str, str]
    folder: Path
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    seconds: list[float] = field(default_factory=list)
    peaks_kb: list[int] = field(default_factory=list)
    ready_text: bytes = b""

    def start(self) -> None:
        self.port = _free_port()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "receiver.log"
        log = open(path, "ab")  # noqa: SIM115 - the child process writes to it for its whole life
        self.proc = subprocess.Popen(
            self.command(self.port), env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        _wait_port(self.port)
        while self.ready_text and self.ready_text not in path.read_bytes():  # all listeners up
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(2)
            self.proc.wait(timeout=300)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def peak_rss_kb(pid: int) -> int:
    """VmHWM (peak resident memory) of a process, in KB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def storescp(work: Path, bit_preserving: bool = False) -> Receiver:
    """dcmtk storescp (the reference of the notes); +B writes the received bytes without re-encoding."""
    out = work / ("storescp-B" if bit_preserving else "storescp")
    extra = ["+B"] if bit_preserving else []
    return Receiver(
        "dcmtk storescp +B" if bit_preserving else "dcmtk storescp",
        "STORESCP",
        lambda port: ["storescp", "-pdu", PDU, *extra, "-aet", "STORESCP", "-od", str(out), str(port)],
        ENV,
        out,
    )


def ours(work: Path, label: str, extra: list[str], index: int) -> Receiver:
    """`sgm dicom serve` with extra arguments, on a fresh migrated data folder."""
    home = work / f"sgm{index}"
    env = {**ENV, "SGM_HOME": str(home), "SGM_DICOM_AE_TITLE": "SGM"}
    env.pop("SGM_DATABASE_URL", None)
    subprocess.run([*SGM, "db", "upgrade"], env=env, check=True, capture_output=True)
    return Receiver(
        label,
        "SGM",
        lambda port: [*SGM, "dicom", "serve", "--port", str(port), *extra],
        env,
        home,
        ready_text=b"Ctrl-C stops",
    )


def send(receiver: Receiver, files: list[Path], senders: int = 1) -> float:
    """storescu the files over `senders` parallel associations; seconds until the last exits."""
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                "storescu",
                "-pdu",
                PDU,
                "-aec",
                receiver.ae_title,
                "127.0.0.1",
                str(receiver.port),
                *map(str, files[i::senders]),
            ],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(senders)
    ]
    if any(p.wait() for p in procs):
        raise RuntimeError(f"storescu into {receiver.label} failed")
    return time.perf_counter() - started


def spool_drained(receiver: Receiver, timeout: float = 600.0) -> float:
    """Seconds until our worker has ingested everything spooled (0 for storescp)."""
    spool = receiver.folder / "incoming" / "dimse"
    started = time.perf_counter()
    while spool.is_dir() and any(p.is_file() for p in spool.rglob("*.dcm")):
        if time.perf_counter() - started > timeout:
            break
        time.sleep(0.05)
    return time.perf_counter() - started


def run_store(receivers: list[Receiver], files: list[Path], rounds: int, senders: int = 1) -> dict[str, list[float]]:
    """Every receiver once per round, in turn; returns drain times of our receivers."""
    drains: dict[str, list[float]] = {r.label: [] for r in receivers}
    for r in receivers:
        r.start()
    try:
        for _ in range(rounds):
            for r in receivers:
                r.seconds.append(send(r, files, senders))
                drains[r.label].append(spool_drained(r))
                assert r.proc is not None
                r.peaks_kb.append(peak_rss_kb(r.proc.pid))
                if r.label.startswith("dcmtk"):
                    shutil.rmtree(r.folder, ignore_errors=True)
                    r.folder.mkdir(parents=True)
    finally:
        for r in receivers:
            r.stop()
    return drains


def report(
    title: str, receivers: list[Receiver], total_bytes: int, n_files: int, drains: dict[str, list[float]]
) -> None:
    """Median MB/s and files/s per receiver, ratio to storescp per round, peak memory."""
    base = receivers[0]
    print(f"\n{title}: {n_files} files, {total_bytes / 1e6:.0f} MB, {len(base.seconds)} rounds (medians)")
    print(
        f"{'receiver':48} {'MB/s':>7} {'files/s':>8} {'x storescp':>11} {'indexed+':>9} {'peak RSS MB (per round)':>24}"
    )
    for r in receivers:
        seconds = statistics.median(r.seconds)
        ratio = statistics.median(b / s for b, s in zip(base.seconds, r.seconds, strict=True))
        drain = statistics.median(drains.get(r.label) or [0.0])
        peaks = " ".join(f"{kb / 1024:.0f}" for kb in r.peaks_kb)
        print(
            f"{r.label:48} {total_bytes / seconds / 1e6:7.0f} {n_files / seconds:8.1f} {ratio:11.2f} "
            f"{drain:8.2f}s {peaks:>24}"
        )
    print("indexed+ = seconds after the last acknowledgement until our worker had ingested everything")


def corpus_files(work: Path, n: int, columns: int, rows: int) -> list[Path]:
    """N synthetic mammograms at that size, generated once into a cache folder."""
    cache = Path(tempfile.gettempdir()) / f"sgm-bench-store-{columns}x{rows}-{n}"
    generate_corpus(
        cache,
        CorpusOptions(patients=max(1, n // 4 + 1), seed=5, columns=columns, rows=rows, prior_fraction=0.0, workers=2),
    )
    return sorted((cache / "dicom").rglob("*.dcm"))[:n]


def orthanc_config(folder: Path, dicom_port: int, http_port: int, destinations: dict[str, int]) -> Path:
    """An Orthanc of the benchmark that may move to each destination AE at its port."""
    modalities = {
        ae.lower(): {
            "AET": ae,
            "Host": "127.0.0.1",
            "Port": port,
            "AllowMove": True,
            "AllowFind": True,
            "AllowEcho": True,
        }
        for ae, port in destinations.items()
    }
    config = {
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomAet": "ORTHANC",
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowStore": True,
        "DicomModalities": modalities,
        "MaximumPduLength": int(PDU),
    }  # Orthanc sends 16 KB PDUs unless told
    path = folder / "orthanc.json"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path


def run_move(work: Path, files: list[Path], receivers: list[Receiver], rounds: int) -> dict[str, list[float]]:
    """C-MOVE every study from an Orthanc to each receiver in turn, `rounds` times."""
    from emr_core.dimse.scu import Peer, move_study

    for r in receivers:
        r.start()
    dicom_port, http_port = _free_port(), _free_port()
    config = orthanc_config(work / "orthanc", dicom_port, http_port, {r.ae_title: r.port for r in receivers})
    orthanc = subprocess.Popen(
        ["Orthanc", str(config)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    drains: dict[str, list[float]] = {r.label: [] for r in receivers}
    try:
        _wait_port(http_port)
        _wait_port(dicom_port)
        studies = _upload(http_port, files)
        peer = Peer("ORTHANC", "127.0.0.1", dicom_port, receivers[-1].ae_title)
        for _ in range(rounds):
            for r in receivers:
                started = time.perf_counter()
                for uid in studies:
                    move_study(peer, uid, r.ae_title)
                r.seconds.append(time.perf_counter() - started)
                drains[r.label].append(spool_drained(r))
                assert r.proc is not None
                r.peaks_kb.append(peak_rss_kb(r.proc.pid))
    finally:
        orthanc.terminate()
        orthanc.wait(timeout=60)
        for r in receivers:
            r.stop()
    return drains


def _upload(http_port: int, files: list[Path]) -> list[str]:
    studies: set[str] = set()
    for path in files:
        request = urllib.request.Request(
            f"http://127.0.0.1:{http_port}/instances", data=path.read_bytes(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            parent = json.loads(response.read())["ParentStudy"]
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/studies/{parent}", timeout=60) as response:
            studies.add(json.loads(response.read())["MainDicomTags"]["StudyInstanceUID"])
    return sorted(studies)


def main(argv: list[str] | None = None) -> None:
    """Run the store, parallel-store and C-MOVE comparisons and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--columns", type=int, default=1664)
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--no-move", action="store_true", help="skip the C-MOVE part")
    parser.add_argument("--only", default="", help="run only our variants whose label contains this text")
    parser.add_argument("--senders", type=int, default=2, help="parallel associations in the second table")
    args = parser.parse_args(argv)
    files = corpus_files(Path(tempfile.gettempdir()), args.files, args.columns, args.rows)
    total = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryDirectory(prefix="sgm-bench-store-") as tmp:
        work = Path(tmp)
        variants = [(label, extra) for label, extra in VARIANTS if args.only in label]
        receivers = [storescp(work), storescp(work, bit_preserving=True)]
        receivers += [ours(work, label, extra, i) for i, (label, extra) in enumerate(variants)]
        drains = run_store(receivers, files, args.rounds)
        report("C-STORE from storescu", receivers, total, len(files), drains)
        if args.senders > 1:
            parallel = [
                storescp(work / "parallel"),
                ours(work / "parallel", "sgm (default)", [], 7),
                ours(work / "parallel", "sgm --processes 2", ["--processes", "2"], 8),
            ]
            drains = run_store(parallel, files, args.rounds, args.senders)
            report(f"C-STORE from {args.senders} storescu at once", parallel, total, len(files), drains)
        if not args.no_move:
            movers = [storescp(work / "move"), ours(work / "move", "sgm (default)", [], 9)]
            drains = run_move(work / "move", files, movers, args.rounds)
            report("C-MOVE from Orthanc", movers, total, len(files), drains)


if __name__ == "__main__":
    main()
