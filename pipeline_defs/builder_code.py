"""What a training-pipeline builder ships besides its definition: its step scripts and its default images.

A builder module (``TrainingSettings.builder`` names ``module:function``) declares a module-level
``BUILDER_CODE = BuilderCode(...)``. The training stack uploads each script as a CDK file asset, lets the pipeline
role read exactly those objects, and hands the definition one bucket and one key placeholder per script
(``Placeholders.script_bucket(name)`` / ``script_key(name)``); the builder refers to a script by the same name.

The module is imported at synth to read ``BUILDER_CODE`` even when the rendered definition comes from the cache, so
it must stay cheap to import: import the sagemaker SDK inside the builder function, not at module level (this
module and ``pipeline_defs.settings`` import nothing heavy).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline_defs.offline import prepare_environment
from pipeline_defs.render import BuilderPathError
from pipeline_defs.settings import SKLEARN_1_2, ImageRef, Placeholders

BUILDER_CODE_ATTRIBUTE = "BUILDER_CODE"
_SCRIPT_NAME = re.compile(r"[a-z][a-z0-9]{0,31}")


@dataclass(frozen=True)
class StepScript:
    """One step script: ``name`` (lowercase letters and digits; the placeholders' stem) and its file."""

    name: str
    path: Path

    def __post_init__(self) -> None:
        """A name the placeholders can carry and a file that exists."""
        if not _SCRIPT_NAME.fullmatch(self.name):
            raise ValueError(f"StepScript name {self.name!r}: lowercase letters and digits, starting with a letter")
        if self.path.suffix != ".py" or not self.path.is_file():
            raise ValueError(f"StepScript {self.name!r}: {self.path} is not a .py file")

    @property
    def bucket_placeholder(self) -> str:
        """The placeholder of the asset's bucket."""
        return Placeholders.script_bucket(self.name)

    @property
    def key_placeholder(self) -> str:
        """The placeholder of the asset's object key."""
        return Placeholders.script_key(self.name)

    @property
    def s3_uri(self) -> str:
        """``s3://${<Name>ScriptBucket}/${<Name>ScriptKey}``: where the definition finds the script."""
        return Placeholders.s3_uri(self.bucket_placeholder, self.key_placeholder)


@dataclass(frozen=True)
class BuilderCode:
    """A builder's step scripts and the image its processing steps run in unless the model names one.

    ``processing_image`` defaults to the AWS scikit-learn 1.2-1 image (pandas, numpy and scikit-learn).
    """

    scripts: tuple[StepScript, ...]
    processing_image: ImageRef = SKLEARN_1_2

    def __post_init__(self) -> None:
        """Script names are unique (each one names a pair of placeholders)."""
        names = [script.name for script in self.scripts]
        if len(set(names)) != len(names):
            raise ValueError(f"BuilderCode: duplicate step-script names in {names}")

    def script(self, name: str) -> StepScript:
        """The script called ``name``."""
        for script in self.scripts:
            if script.name == name:
                return script
        raise KeyError(f"no step script {name!r}; this builder ships {[s.name for s in self.scripts]}")

    def placeholders(self) -> frozenset[str]:
        """Every placeholder a definition of this builder may use."""
        return Placeholders.for_scripts(script.name for script in self.scripts)


def builder_code(builder: str, region: str) -> BuilderCode:
    """The ``BUILDER_CODE`` of the module ``builder`` (``module:function``) names, or a clear error."""
    module_name = builder.partition(":")[0]
    # A module that imports the SDK at top level needs a region before it is imported.
    prepare_environment(region)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise BuilderPathError(
            f"Pipeline builder {builder!r}: cannot import module {module_name!r} ({error})."
        ) from error
    code = getattr(module, BUILDER_CODE_ATTRIBUTE, None)
    if not isinstance(code, BuilderCode):
        raise BuilderPathError(
            f"Pipeline builder {builder!r}: module {module_name!r} declares no {BUILDER_CODE_ATTRIBUTE} = "
            "BuilderCode(...) (its step scripts and default images; pipeline_defs/builder_code.py)."
        )
    return code
