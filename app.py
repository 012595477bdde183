#!/usr/bin/env python3
"""CDK entry point: validate the configuration, build one Stage per environment, synthesize.

Context (``-c``) selects, it never defines: ``-c env=NAME`` narrows synth to one environment,
``-c config=PATH`` points at another configuration file, ``-c approved_models=PATH`` at the resolver's output
(default approved-models.json; the served packages' baselines are promoted with them, no file needed),
``-c cicd=false`` leaves out the release pipeline stack (left out anyway with ``-c env``; docs/cicd.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# cdk-nag reads CfnEventBusPolicy's deprecated `principal` property while checking our policies (we set only
# `statement`), which prints a deprecation warning on every synth. Silence jsii deprecation warnings for synth;
# the tests keep them on.
os.environ.setdefault("JSII_DEPRECATED", "quiet")

import aws_cdk as cdk

from mlops_config import ConfigError, load_config
from mlops_config.approved import load_approved_models
from stacks.platform import build_platform, cicd_enabled, select_environments


def main() -> None:
    """Synthesize the app, or exit with the configuration error and nothing else."""
    app = cdk.App()
    try:
        config = load_config(app.node.try_get_context("config") or "config/platform.yaml")
        approved = load_approved_models(
            Path(app.node.try_get_context("approved_models") or "approved-models.json"), config
        )
        selected = app.node.try_get_context("env")
        build_platform(
            app,
            config,
            environments=select_environments(config, selected),
            approved=approved,
            with_cicd=cicd_enabled(config, app.node.try_get_context("cicd"), selected),
        )
    except ConfigError as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
