"""Generate a platform configuration with N models, and an approved-models file that serves every one of them.

Derived from ``config/platform.yaml``: its first model is cloned as ``model-01`` .. ``model-NN`` (each with its
own training pipeline, serving, monitoring and retraining triggers, as the sample has them), and every
generated model gets a fake versioned package ARN in every environment so that endpoints and monitoring are
built for it. The output is deterministic: the same N gives the same bytes.

    python -m bench.gen_config 50 /tmp/scale   # writes platform-50.yaml and approved-50.json there
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import yaml

from mlops_config import PlatformConfig, parse_config
from mlops_constructs import naming

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "config" / "platform.yaml"
# A well-formed but fake CodeConnections connection: with it app.py also builds the CI/CD pipeline stack.
FAKE_CONNECTION_UUID = "00000000-0000-4000-8000-000000000000"


def model_names(count: int) -> list[str]:
    """``model-01`` .. ``model-NN``, zero-padded to at least two digits so names sort like numbers."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    width = max(2, len(str(count)))
    return [f"model-{index:0{width}d}" for index in range(1, count + 1)]


def _without_pins(model: dict[str, Any]) -> dict[str, Any]:
    # A pinned package belongs to the sample's own group: clones are served from the approved file instead.
    for env_settings in (model.get("environments") or {}).values():
        serving = (env_settings or {}).get("serving")
        if isinstance(serving, dict):
            serving.pop("model_package_arn", None)
    return model


def generate_config(base: dict[str, Any], count: int, *, with_cicd: bool = True) -> dict[str, Any]:
    """A copy of ``base`` whose models are ``count`` clones of its first model; ``with_cicd`` adds a connection."""
    if not base.get("models"):
        raise ValueError("the base configuration has no model to clone")
    raw = copy.deepcopy(base)
    template = raw["models"][0]
    models = []
    for name in model_names(count):
        model = _without_pins(copy.deepcopy(template))
        model["name"] = name
        model["description"] = f"Benchmark clone of {template['name']}."
        model.pop("data_prefix", None)  # each clone lands its data under its own '<name>/training/'
        models.append(model)
    raw["models"] = models
    tooling = raw.get("tooling")
    if with_cicd and isinstance(tooling, dict):
        tooling["connection_arn"] = (
            f"arn:aws:codeconnections:{tooling['region']}:{tooling['account']}:connection/{FAKE_CONNECTION_UUID}"
        )
    return raw


def generate_approved(config: PlatformConfig, version: int = 1) -> dict[str, dict[str, str]]:
    """environment -> model -> a versioned package ARN in the registry's account, for every model everywhere."""
    registry = config.registry
    return {
        env.name: {
            model.name: (
                f"arn:aws:sagemaker:{registry.region}:{registry.account}:model-package/"
                f"{naming.model_package_group_name(config.project, model.name)}/{version}"
            )
            for model in config.models
        }
        for env in config.environments
    }


def load_base(path: Path = DEFAULT_CONFIG) -> dict[str, Any]:
    """The shipped configuration as plain data."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return raw


def write_scale_inputs(
    count: int, directory: Path, *, base: dict[str, Any] | None = None, with_cicd: bool = True
) -> tuple[Path, Path]:
    """Write ``platform-N.yaml`` and ``approved-N.json`` under ``directory``, validated; returns both paths."""
    raw = generate_config(load_base() if base is None else base, count, with_cicd=with_cicd)
    config_path = directory / f"platform-{count}.yaml"
    config = parse_config(raw, source=config_path)  # fail here, naming the field, not deep inside synth
    directory.mkdir(parents=True, exist_ok=True)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    approved_path = directory / f"approved-{count}.json"
    approved_path.write_text(json.dumps(generate_approved(config), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return config_path, approved_path


def main(argv: list[str] | None = None) -> int:
    """Command line: write the configuration and approved-models file for N models."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("count", type=int, help="number of models")
    parser.add_argument("directory", type=Path, help="where to write the two files")
    parser.add_argument("--no-cicd", action="store_true", help="leave the CI/CD connection out")
    args = parser.parse_args(argv)
    config_path, approved_path = write_scale_inputs(args.count, args.directory, with_cicd=not args.no_cicd)
    print(config_path)
    print(approved_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
