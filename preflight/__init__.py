"""Pre-flight: read-only checks that an environment's AWS account can hold this platform, before ``cdk deploy``.

``make preflight ENV=name`` (``python -m preflight --env name``) runs with that environment's credentials and
reports, per check, ``pass``, ``fail`` (with the fix) or ``cannot tell`` (AWS offers no read-only way to know,
or the credentials may not read it; the report says which). It only reads: STS, SSM, IAM, Service Quotas,
Lambda, EventBridge, SageMaker list calls, CloudFormation, SNS, CodeConnections.
"""
