"""The AWS facts configuration is validated against: SageMaker instance types per job kind and regions.

They come from botocore's SageMaker service model, the same model the AWS APIs validate requests against, but
loading that model costs a few hundred milliseconds at every synth. So the facts are extracted once into
``catalog.json`` beside this file; ``tests/config/test_catalog.py`` fails when the installed botocore disagrees,
and ``python -m mlops_config.catalog`` rewrites the file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Literal

CATALOG_FILE = Path(__file__).with_name("catalog.json")

InstanceKind = Literal["endpoint", "training", "processing", "transform"]

# botocore shape that enumerates the instance types each kind of SageMaker resource accepts.
_SHAPES: dict[InstanceKind, str] = {
    "endpoint": "ProductionVariantInstanceType",
    "training": "TrainingInstanceType",
    "processing": "ProcessingInstanceType",
    "transform": "TransformInstanceType",
}


def extract_catalog() -> dict[str, list[str]]:
    """Read the catalog from the installed botocore (used to refresh ``catalog.json`` and by its test)."""
    import botocore.session

    session = botocore.session.get_session()
    model = session.get_service_model("sagemaker")
    catalog: dict[str, list[str]] = {kind: sorted(model.shape_for(shape).enum) for kind, shape in _SHAPES.items()}
    catalog["regions"] = sorted(session.get_available_regions("sagemaker"))
    return catalog


@cache
def load_catalog() -> dict[str, frozenset[str]]:
    """The catalog shipped with the project, as sets."""
    raw = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    return {key: frozenset(values) for key, values in raw.items()}


def instance_types(kind: InstanceKind) -> frozenset[str]:
    """SageMaker instance types valid for ``kind``."""
    return load_catalog()[kind]


def regions() -> frozenset[str]:
    """AWS regions where SageMaker is available."""
    return load_catalog()["regions"]


if __name__ == "__main__":
    CATALOG_FILE.write_text(json.dumps(extract_catalog(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {CATALOG_FILE}")
