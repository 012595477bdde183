"""The serving side of the SageMaker XGBoost 1.7-1 container, re-stated for tests with the local xgboost.

The container's code is not on PyPI (``pip index versions sagemaker-xgboost-container`` finds nothing) and its
serving library, ``sagemaker-containers==2.8.6.post2``, pins Flask 1.1 and psutil 5.6 that the project venv cannot
take. So this module re-states, without copying, the decisions the container makes on the way from an environment
and a ``model.tar.gz`` to a CSV answer. Sources, read at aws/sagemaker-xgboost-container tag ``v1.7-1-1``
(ec28c4b) and aws/sagemaker-containers tag ``v2.8.6.post2``:

- mode: ``src/sagemaker_xgboost_container/serving.py`` ``main`` serves the built-in ``ScoringService`` only when
  ``env.ServingEnv().module_name`` is None, and otherwise ``importlib.import_module``s it;
  ``sagemaker_containers/_env.py`` ``_Env.__init__`` reads ``SAGEMAKER_PROGRAM`` (default None) and
  ``_parse_module_name`` strips a ``.py`` suffix only from a non-empty name, so "" stays "";
- model: ``algorithm_mode/serve_utils.py`` ``get_loaded_booster`` loads every non-dot file of the model directory
  (ensemble on unless ``SAGEMAKER_INFERENCE_ENSEMBLE`` says otherwise), each first as a pickle, else with
  ``Booster.load_model``; ``predict`` checks feature counts for pickles only and predicts with
  ``validate_features=False`` (up to ``best_ntree_limit`` when the booster has one);
- request: ``algorithm_mode/serve.py`` ``invocations`` (empty body -> 204; ``parse_content_data``; predict;
  ``_parse_accept``: no or ``*/*`` Accept -> ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` or text/csv);
  ``data_utils.py`` ``get_content_type`` (text/csv, ``label_size`` must be 1); ``encoder.py`` ``csv_to_dmatrix``
  (strip, UTF-8, delimiter sniffed from the first line's first 512 characters and "," when the sniffer picks a
  letter or digit, empty fields become NaN, every row parsed as float, no header);
- response: ``serve.py`` ``invocations`` again: under ``SAGEMAKER_BATCH`` one ``str(value)`` per line, otherwise
  ``sagemaker_containers/_encoders.py`` ``array_to_csv``: a 1-D prediction becomes one column, written by
  ``csv.writer`` with "\\n" line ends. ``SAGEMAKER_INFERENCE_OUTPUT`` (selectable output) is not re-stated.

What differs from the image: the xgboost version (the image has 1.7, this venv has a newer one), so a booster is
predicted with ``iteration_range`` instead of the removed ``ntree_limit``, exactly as the container's current
``_predict_with_compat`` does for xgboost 2 and later.
"""

from __future__ import annotations

import csv
import importlib
import io
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

SUPPORTED_ACCEPTS = ("application/json", "application/jsonlines", "application/x-recordio-protobuf", "text/csv")


class ContainerStartError(RuntimeError):
    """The container would not come up: /ping never answers, every endpoint and transform job fails."""


@dataclass(frozen=True)
class Response:
    """An HTTP answer of the container."""

    status: int
    body: str
    mimetype: str | None = None


def module_name(environment: Mapping[str, str]) -> str | None:
    """The user module the container would import, or None for algorithm mode (sagemaker-containers' rule)."""
    program = environment.get("SAGEMAKER_PROGRAM")
    if program and program.endswith(".py"):
        return program[: -len(".py")]
    return program


def _media_type(header: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` in lower case and its ``;key=value`` parameters, as ``cgi.parse_header`` splits them."""
    parts = [part.strip() for part in header.lower().split(";")]
    params = dict(part.split("=", 1) for part in parts[1:] if "=" in part)
    return parts[0], {key.strip(): value.strip().strip('"') for key, value in params.items()}


class AlgorithmModeServer:
    """The built-in scoring service of the container, for one model directory and one environment."""

    def __init__(self, model_dir: Path, environment: Mapping[str, str]) -> None:
        self.model_dir = model_dir
        self.environment = dict(environment)
        self._boosters: list[xgb.Booster] | None = None
        self._formats: list[str] = []

    def _load(self) -> list[xgb.Booster]:
        if self._boosters is None:
            ensemble = self.environment.get("SAGEMAKER_INFERENCE_ENSEMBLE", "true") == "true"
            files = [p for p in sorted(self.model_dir.iterdir()) if p.is_file() and not p.name.startswith(".")]
            boosters: list[xgb.Booster] = []
            for path in files if ensemble else files[:1]:
                try:
                    with path.open("rb") as stream:
                        booster = pickle.load(stream)  # the container tries a pickle first
                    self._formats.append("pkl_format")
                except Exception:  # the container falls back on any unpickling error
                    booster = xgb.Booster()
                    booster.load_model(str(path))
                    self._formats.append("xgb_format")
                booster.set_param("nthread", 1)
                boosters.append(booster)
            if not boosters:
                raise ContainerStartError(f"no model file in {self.model_dir}")
            self._boosters = boosters
        return self._boosters

    def ping(self) -> Response:
        """GET /ping: loads the model; 200 once it is loaded."""
        self._load()
        return Response(status=200, body="")

    @staticmethod
    def _csv_to_dmatrix(payload: bytes) -> xgb.DMatrix:
        text = payload.strip().decode("utf-8")
        sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
        delimiter = "," if sniffed.isalnum() else sniffed
        rows = [["nan" if field == "" else field for field in line.split(delimiter)] for line in text.split("\n")]
        return xgb.DMatrix(np.array(rows).astype(float))

    def _predict(self, data: xgb.DMatrix, content_type: str) -> Any:
        boosters = self._load()
        for booster, model_format in zip(boosters, self._formats, strict=True):
            if model_format == "pkl_format" and content_type == "csv":
                trained, given = booster.num_features(), data.num_col()
                if given not in (trained, trained + 1):
                    raise ValueError(f"Feature size of csv inference data {given} is not consistent with {trained}")
        predictions = []
        for booster in boosters:
            # The container asks for ``best_ntree_limit``, which a loaded booster only has when training set it.
            best = int(getattr(booster, "best_ntree_limit", 0) or 0)
            if best > 0:
                predictions.append(booster.predict(data, iteration_range=(0, best), validate_features=False))
            else:
                predictions.append(booster.predict(data, validate_features=False))
        return predictions[0] if len(predictions) == 1 else np.mean(predictions, axis=0)

    def _accept(self, accept: str | None) -> str:
        media = _media_type(accept or "")[0]
        if not media or media == "*/*":
            return self.environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
        if media not in SUPPORTED_ACCEPTS:
            raise ValueError(f"Accept type {media} is not supported")
        return media

    def _decode_and_predict(self, payload: bytes, content_type: str) -> Response | Any:
        media, params = _media_type(content_type)
        if media not in ("csv", "text/csv") or params.get("label_size", "1") != "1":
            return Response(status=415, body=f"Content-type {content_type} is not re-stated here")
        try:
            data = self._csv_to_dmatrix(payload)
        except Exception as error:  # the container answers 415 on any decoding error
            return Response(status=415, body=f"Loading csv data failed: {error}")
        try:
            return self._predict(data, "csv")
        except Exception as error:  # the container answers 400 on any prediction error
            return Response(status=400, body=f"Unable to evaluate payload provided: {error}")

    def invocations(self, payload: bytes, *, content_type: str, accept: str | None = None) -> Response:
        """POST /invocations with ``payload`` of ``content_type``; the status codes are the container's."""
        if not payload:
            return Response(status=204, body="")
        predictions = self._decode_and_predict(payload, content_type)
        if isinstance(predictions, Response):
            return predictions
        try:
            media_out = self._accept(accept)
        except ValueError as error:
            return Response(status=406, body=str(error))
        if "SAGEMAKER_INFERENCE_OUTPUT" in self.environment:
            raise NotImplementedError("selectable inference output is not re-stated")
        values = predictions.tolist()
        if self.environment.get("SAGEMAKER_BATCH"):
            return Response(status=200, body="\n".join(map(str, values)) + "\n", mimetype=media_out)
        if media_out != "text/csv":
            raise NotImplementedError(f"{media_out} responses are not re-stated")
        stream = io.StringIO()
        writer = csv.writer(stream, lineterminator="\n", delimiter=",", quotechar='"', doublequote=True, strict=True)
        writer.writerows(np.reshape(np.array(values), (-1, 1)) if np.ndim(values) == 1 else values)
        return Response(status=200, body=stream.getvalue(), mimetype=media_out)


def start_container(model_dir: Path, environment: Mapping[str, str]) -> AlgorithmModeServer:
    """Start the serving container with ``environment`` over the unpacked model in ``model_dir``.

    Raises ContainerStartError where the container would import a user module it cannot import (the container
    imports the module on its first request, /ping included, so it never becomes healthy).
    """
    name = module_name(environment)
    if name is not None:
        try:
            importlib.import_module(name)
        except (ImportError, ValueError) as error:
            raise ContainerStartError(f"script mode with SAGEMAKER_PROGRAM={name!r}: {error}") from error
        raise ContainerStartError(f"script mode with module {name!r} is not re-stated here")
    if not model_dir.is_dir():
        raise ContainerStartError(f"model directory {model_dir} does not exist")
    return AlgorithmModeServer(model_dir, environment)
