"""The synth-time floor: the smallest useful CDK app (one stack, one bucket), run exactly like app.py.

``python bench/floor_app.py`` with the CLI's ``CDK_OUTDIR`` and ``CDK_CONTEXT_JSON`` (the same feature flags as the
platform) measures what any CDK app in this venv pays: starting jsii and Node, loading aws-cdk-lib, synthesizing.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3


def main() -> None:
    """Synthesize one stack holding one bucket."""
    app = cdk.App()
    stack = cdk.Stack(app, "Floor")
    s3.Bucket(stack, "Bucket")
    app.synth()


if __name__ == "__main__":
    main()
