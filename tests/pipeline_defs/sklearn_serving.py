"""The serving side of the AWS scikit-learn 1.2-1 container, re-stated for tests with the local scikit-learn.

The container's serving library, ``sagemaker-containers==2.8.6.post2``, pins Flask 1.1 and psutil 5.6 that the
project venv cannot take (see ``xgboost_serving.py``), so this module re-states, without copying, what the container
does between an environment, ``/opt/ml/model`` and an answer. Sources, read at aws/sagemaker-scikit-learn-container
tag ``v1.2-1-1`` (its ``serving.py`` is unchanged at the default branch) and aws/sagemaker-containers tag
``v2.8.6.post2``:

- start: ``serving.py`` ``main`` builds ``env.ServingEnv()`` and calls ``import_module(module_name, module_dir)``;
  ``_env.py`` ``ServingEnv.__init__`` reads ``SAGEMAKER_PROGRAM`` (default None) and ``SAGEMAKER_SUBMIT_DIRECTORY``
  (default ``/opt/ml/code``); ``_parse_module_name`` strips ``.py`` from a non-empty name; ``import_module`` tries
  ``importlib.import_module(name)`` and otherwise ``_modules.import_module(module_dir, name)``, which runs
  ``_files.download_and_extract(uri, /opt/ml/code)`` (``s3://`` -> download a tar.gz; a directory -> copied; a
  tar file -> extracted) and imports the module from there;
- functions: ``serving.py`` ``_user_module_transformer``: the module's ``model_fn`` or ``default_model_fn``
  (``_transformer.default_model_fn`` raises NotImplementedError), its ``input_fn``/``predict_fn``/``output_fn`` or
  the container's defaults; ``Transformer.initialize`` calls ``model_fn("/opt/ml/model")`` once per worker;
- defaults: ``default_input_fn`` = ``_encoders.decode`` (``text/csv`` -> ``csv_to_numpy``: ``csv.reader`` rows,
  ``np.array(rows).squeeze()``, ``astype(None)``), then ``astype(float32)`` for JSON and CSV; an unknown type ->
  ``UnsupportedFormatError`` -> 415; ``default_predict_fn`` = ``model.predict``; ``default_output_fn`` =
  ``_encoders.encode(prediction, accept)`` (``text/csv`` -> ``array_to_csv``: a 1-D array becomes one column,
  ``csv.writer`` with ``\\n`` line ends); an unknown Accept -> 406;
- request: ``_worker.py`` ``Request.content_type`` (``Content-Type``, default application/json), ``Request.accept``
  (no Accept or ``*/*`` -> ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, default application/json), ``Request.content``
  (text for exactly application/json and text/csv, bytes otherwise).
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import shutil
import sys
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CONTAINER_MODEL_DIR = "/opt/ml/model"
CONTAINER_CODE_DIR = "/opt/ml/code"
JSON = "application/json"
CSV = "text/csv"
UTF8_TYPES = (JSON, CSV)


class ContainerStartError(RuntimeError):
    """The container would not come up: every endpoint and transform job of the model fails."""


class UnsupportedFormatError(ValueError):
    """A content type the default encoders do not know."""


@dataclass(frozen=True)
class Response:
    """An HTTP answer of the container."""

    status: int
    body: str
    mimetype: str | None = None


def module_name(environment: Mapping[str, str]) -> str | None:
    """The user module the container imports (``ServingEnv.module_name``)."""
    program = environment.get("SAGEMAKER_PROGRAM")
    if program and program.endswith(".py"):
        return program[: -len(".py")]
    return program


def _csv_to_numpy(text: str) -> np.ndarray[Any, Any]:
    rows = list(csv.reader(io.StringIO(text), delimiter=",", quotechar='"', doublequote=True, strict=True))
    array = np.array(rows).squeeze()
    # The container keeps the strings when they are not numbers (dtype None).
    with contextlib.suppress(ValueError):
        array = array.astype(None)
    return array


def _decode(content: Any, content_type: str) -> np.ndarray[Any, Any]:
    if content_type == CSV:
        return _csv_to_numpy(content)
    if content_type == JSON:
        return np.array(json.loads(content))
    raise UnsupportedFormatError(content_type)


def _encode(prediction: Any, accept: str) -> str:
    array = np.array(prediction)
    if accept == CSV:
        if array.ndim == 1:
            array = array.reshape(array.shape[0], 1)
        stream = io.StringIO()
        csv.writer(stream, lineterminator="\n", delimiter=",", quotechar='"', doublequote=True).writerows(array)
        return stream.getvalue()
    if accept == JSON:
        return json.dumps(array.tolist())
    raise UnsupportedFormatError(accept)


def default_input_fn(input_data: Any, content_type: str) -> np.ndarray[Any, Any]:
    """The container's default: decode, then float32 for the UTF-8 types."""
    array = _decode(input_data, content_type)
    return array.astype(np.float32) if content_type in UTF8_TYPES else array


def default_predict_fn(input_data: Any, model: Any) -> Any:
    """The container's default: ``model.predict``."""
    return model.predict(input_data)


def default_output_fn(prediction: Any, accept: str) -> tuple[str, str]:
    """The container's default: encode as ``accept``."""
    return _encode(prediction, accept), accept


def _local(container_path: str, model_dir: Path) -> Path:
    """Where a container path under /opt/ml/model is in the test's unpacked model directory."""
    if container_path == CONTAINER_MODEL_DIR or container_path.startswith(CONTAINER_MODEL_DIR + "/"):
        return model_dir / container_path[len(CONTAINER_MODEL_DIR) :].lstrip("/")
    return Path(container_path)


def _download_and_extract(uri: str, model_dir: Path, code_dir: Path) -> None:
    if uri.startswith("s3://"):
        raise ContainerStartError(f"SAGEMAKER_SUBMIT_DIRECTORY {uri!r} is downloaded from S3 at start")
    source = _local(uri, model_dir)
    if source.is_dir():
        shutil.copytree(source, code_dir, dirs_exist_ok=True)
    elif source.is_file() and tarfile.is_tarfile(source):
        with tarfile.open(source, mode="r:gz") as archive:
            archive.extractall(code_dir, filter="data")
    # Anything else leaves /opt/ml/code empty, and the import below fails.


class SklearnServer:
    """The scikit-learn container for one unpacked model directory and one environment."""

    def __init__(self, model_dir: Path, environment: Mapping[str, str], code_dir: Path) -> None:
        name = module_name(environment)
        if not name:
            raise ContainerStartError(f"SAGEMAKER_PROGRAM={environment.get('SAGEMAKER_PROGRAM')!r}: no module")
        submit_dir = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", CONTAINER_CODE_DIR)
        _download_and_extract(submit_dir, model_dir, code_dir)
        module = self._import(name, code_dir)
        model_fn: Callable[[str], Any] | None = getattr(module, "model_fn", None)
        if model_fn is None:
            raise ContainerStartError("Please provide a model_fn implementation (default_model_fn raises)")
        self.input_fn: Callable[[Any, str], Any] = getattr(module, "input_fn", default_input_fn)
        self.predict_fn: Callable[[Any, Any], Any] = getattr(module, "predict_fn", default_predict_fn)
        user_output_fn = getattr(module, "output_fn", None)
        self.output_fn: Callable[[Any, str], Any] = user_output_fn or default_output_fn
        # Transformer.initialize: the model directory as the container sees it is the unpacked artifact.
        self.model = model_fn(str(model_dir))
        self.default_accept = environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)

    @staticmethod
    def _import(name: str, code_dir: Path) -> Any:
        path = code_dir / f"{name}.py"
        if not path.is_file():
            raise ContainerStartError(f"No module named {name!r} in {sorted(p.name for p in code_dir.iterdir())}")
        spec = importlib.util.spec_from_file_location(f"served_{name}_{id(code_dir)}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module

    def invocations(self, body: bytes, *, content_type: str | None, accept: str | None) -> Response:
        """POST /invocations."""
        content_type = content_type or JSON
        accept = self.default_accept if not accept or accept == "*/*" else accept
        content: Any = body.decode("utf-8") if content_type in UTF8_TYPES else body
        try:
            data = self.input_fn(content, content_type)
        except UnsupportedFormatError as error:
            return Response(415, str(error), JSON)
        except Exception as error:
            return Response(500, f"{type(error).__name__}: {error}", JSON)
        try:
            prediction = self.predict_fn(data, self.model)
        except Exception as error:
            return Response(500, f"{type(error).__name__}: {error}", JSON)
        try:
            result = self.output_fn(prediction, accept)
        except UnsupportedFormatError as error:
            return Response(406, str(error), JSON)
        body_text, mimetype = result if isinstance(result, tuple) else (result, accept)
        return Response(200, body_text, mimetype)
