"""Registered test detectors on a real MLflow server, a real `mlflow models serve`, and hostile model servers."""

from __future__ import annotations

import os
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from sgm_datasets.mlflow_log import mlflow_client, use_tracking
from tests.support.dicom_factory import write_mg
from tests.support.servers import _server, free_port, mlflow_server

MODEL_CODE = Path(__file__).with_name("detector_model.py")
DETECTOR = "test-detector"
HOSTILE = "hostile-detector"
LONG_SIDE = 128
WORKTREE = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Registry:
    """A tracking server holding `detector` v1 (alias champion) and `hostile` versions aliased by their mode."""

    uri: str
    root: Path
    detector: str = DETECTOR
    hostile: str = HOSTILE


def _frames() -> tuple[object, object]:
    import pandas as pd

    from detection.contract import INPUT_COLUMNS, OUTPUT_COLUMNS

    inputs = pd.DataFrame([["1", "1", "L", "CC", "iVBORw0KGgo="]], columns=list(INPUT_COLUMNS))
    outputs = pd.DataFrame([["1", "[]", 0.5, 0.5]], columns=list(OUTPUT_COLUMNS))
    return inputs, outputs


def register(uri: str, name: str, mode: str, alias: str) -> str:
    """Log the test detector in `mode` as a new version of `name` and point `alias` at it."""
    import mlflow
    from mlflow.models import infer_signature

    use_tracking(uri)
    mlflow.set_experiment("test-detectors")  # never the experiment an earlier test left active on another server
    inputs, outputs = _frames()
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="detector",
            python_model=str(MODEL_CODE),
            model_config={"mode": mode},
            signature=infer_signature(inputs, outputs),
            metadata={"input_long_side": LONG_SIDE},
            registered_model_name=name,
            pip_requirements=["mlflow"],  # inferring them loads the model in a subprocess: slow, and unused here
        )
    version = str(info.registered_model_version)
    mlflow_client(uri).set_registered_model_alias(name, alias, version)
    return version


def _registered(uri: str, root: Path, suffix: str = "") -> Registry:
    found = Registry(uri, root, DETECTOR + suffix, HOSTILE + suffix)
    register(uri, found.detector, "brightest", "champion")
    for mode in ("malformed", "short", "raise"):
        register(uri, found.hostile, mode, mode)
    return found


@contextmanager
def model_registry(root: Path) -> Iterator[Registry]:
    """Our own MLflow server, or the one SGM_TEST_MLFLOW_URL names (fresh model names per run)."""
    shared = os.environ.get("SGM_TEST_MLFLOW_URL")
    if shared:
        yield _registered(shared, root, f"-{uuid.uuid4().hex[:8]}")
        return
    with mlflow_server(root) as port:
        yield _registered(f"http://127.0.0.1:{port}", root)


@contextmanager
def model_serve(uri: str, model_uri: str, log: Path) -> Iterator[str]:
    """`mlflow models serve -m MODEL_URI --env-manager local` on a free loopback port; yields its URL."""
    port = free_port()
    # `mlflow models serve` execs `uvicorn` by name: this venv's bin folder goes first on PATH.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    # Both URIs: mlflow exports whatever registry an earlier test last set to its subprocesses' environment.
    env = {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}
    env["PYTHONPATH"] = str(WORKTREE)
    command = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", model_uri,
               "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    with _server(command, f"http://127.0.0.1:{port}/ping", 300, log, env):
        yield f"http://127.0.0.1:{port}"


@dataclass
class HostileServer:
    """A loopback TCP server that reads each request, then never answers (hang) or answers half (drop)."""

    behaviour: str
    connections: int = 0

    @contextmanager
    def running(self) -> Iterator[str]:
        listener = socket.create_server(("127.0.0.1", 0))
        stop = threading.Event()
        thread = threading.Thread(target=self._serve, args=(listener, stop), daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        finally:
            stop.set()
            listener.close()
            thread.join(5)

    def _serve(self, listener: socket.socket, stop: threading.Event) -> None:
        held: list[socket.socket] = []
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            self.connections += 1
            conn.recv(65536)
            if self.behaviour == "drop":
                conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 900\r\n\r\n{"pre')
                conn.close()
            else:
                held.append(conn)  # accepted, never answered
        for conn in held:
            conn.close()


@dataclass(frozen=True)
class PlantedStudy:
    study_uid: str
    spot: tuple[int, int]  # (column, row) of the bright square's centre in DICOM pixels


def write_studies(folder: Path, count: int = 2, rows: int = 512, columns: int = 400) -> list[PlantedStudy]:
    """Studies of four MG images (L/R x CC/MLO), each with one bright square on a dim background."""
    rng = np.random.default_rng(7)
    planted = []
    for s in range(count):
        study_uid, spot = generate_uid(), (int(rng.integers(60, columns - 60)), int(rng.integers(60, rows - 60)))
        for k, (side, view) in enumerate((("L", "CC"), ("R", "CC"), ("L", "MLO"), ("R", "MLO"))):
            pixels = rng.integers(200, 400, size=(rows, columns), dtype=np.uint16)
            x, y = spot
            pixels[y - 20 : y + 20, x - 20 : x + 20] = 3000
            write_mg(
                folder / f"s{s}" / f"{k}.dcm", Rows=rows, Columns=columns, StudyInstanceUID=study_uid,
                SeriesInstanceUID=generate_uid(), ImageLaterality=side, ViewPosition=view,
                PhotometricInterpretation="MONOCHROME2", PatientID=f"P{s}", AccessionNumber=f"ACC{s}",
                PixelData=pixels.tobytes(),
            )  # fmt: skip
        planted.append(PlantedStudy(study_uid, spot))
    return planted
