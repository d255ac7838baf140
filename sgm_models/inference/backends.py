"""Two ways to run a registered detector behind one interface: in this process, or over `/invocations`."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from detection.contract import MalformedOutput
from sgm_models.inference.errors import BackendFailed
from sgm_models.inference.registry import ResolvedModel, use_registry


class Backend(Protocol):
    """Runs one model version on an input frame (detection.contract) and returns its raw output frame."""

    @property
    def model(self) -> ResolvedModel: ...

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame: ...

    def close(self) -> None:
        """Release connections (the loaded model stays cached for the next backend of its version)."""


_LOADED: dict[tuple[str, str], Any] = {}
_LOADING = threading.Lock()


def _load(model: ResolvedModel) -> Any:
    # A version's artifacts never change, so a loaded model serves every later request for it.
    key = (model.tracking_uri, model.uri)
    with _LOADING:
        if key not in _LOADED:
            with use_registry(model.tracking_uri):
                try:
                    _LOADED[key] = mlflow.pyfunc.load_model(model.uri)
                except MlflowException as exc:
                    raise BackendFailed(f"{model.uri} cannot be loaded: {exc.message}") from None
        return _LOADED[key]


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


class InProcessBackend:
    """The model loaded with mlflow.pyfunc into this process (once per version)."""

    def __init__(self, model: ResolvedModel) -> None:
        self._model = model
        self._pyfunc = _load(model)

    @property
    def model(self) -> ResolvedModel:
        return self._model

    def close(self) -> None:
        pass

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        try:
            output = self._pyfunc.predict(frame)
        except Exception as exc:  # the model's own failure is a study's failure, not a crashed run
            raise BackendFailed(f"the model raised {type(exc).__name__}: {_one_line(exc)}") from None
        if not isinstance(output, pd.DataFrame):
            raise MalformedOutput(f"the model returned {type(output).__name__}, not a table")
        return output


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts per attempt, and how often and how patiently a failed attempt is repeated."""

    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    retries: int = 2
    backoff_seconds: float = 1.0

    def delay(self, attempt: int) -> float:
        """Seconds before retry number `attempt` (1, 2, ...): exponential back-off."""
        return float(self.backoff_seconds * 2 ** (attempt - 1))


def _transport_problem(exc: httpx.TransportError, policy: RetryPolicy) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {policy.connect_timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {policy.read_timeout:g} s"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server dropped the connection ({_one_line(exc)})"
    return f"{type(exc).__name__}: {_one_line(exc)}"


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return _one_line(Exception(response.text))
    message = body.get("message", body) if isinstance(body, dict) else body
    return _one_line(Exception(str(message).split("\n", 1)[0]))


def _output_frame(response: httpx.Response) -> pd.DataFrame:
    try:
        body = response.json()
    except ValueError:
        raise MalformedOutput("the model server's answer is not JSON") from None
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list) or not all(isinstance(row, dict) for row in predictions):
        raise MalformedOutput("the model server's answer has no list of predictions")
    return pd.DataFrame.from_records(predictions)


class RemoteBackend:
    """A server speaking MLflow's scoring protocol (`mlflow models serve`, or any other) at `url`."""

    def __init__(self, model: ResolvedModel, url: str, policy: RetryPolicy, max_connections: int = 4) -> None:
        self._model, self._url, self._policy = model, url.rstrip("/") + "/invocations", policy
        timeout = httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.Client(timeout=timeout, limits=limits)

    @property
    def model(self) -> ResolvedModel:
        return self._model

    def close(self) -> None:
        self._client.close()

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        body = json.dumps({"dataframe_split": frame.to_dict(orient="split", index=False)})
        problem = ""
        for attempt in range(self._policy.retries + 1):
            if attempt:
                time.sleep(self._policy.delay(attempt))
            try:
                response = self._client.post(self._url, content=body, headers={"Content-Type": "application/json"})
            except httpx.TransportError as exc:
                problem = _transport_problem(exc, self._policy)
                continue
            if response.status_code >= 500:  # overloaded or timed out on its side: worth another try
                problem = f"HTTP {response.status_code}: {_server_message(response)}"
                continue
            if response.status_code >= 400:  # the model refused or raised: the same request fails again
                raise BackendFailed(f"the model server refused the request: {_server_message(response)}")
            return _output_frame(response)
        attempts = self._policy.retries + 1
        raise BackendFailed(f"the model server at {self._url} failed {attempts} attempt(s): {problem}")
