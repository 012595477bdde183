"""Endpoint configs: a volume KMS key only where the instance has a volume to encrypt with it."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from cfn_rules._shared import has_instance_storage, properties, resources, variants


class KmsKeyWithInstanceStorage(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type information
    """No ``KmsKeyId`` on an endpoint config whose variants use instance types with NVMe instance storage.

    AWS doc: API reference "CreateEndpointConfig", ``KmsKeyId``: instance types with local (NVMe) storage encrypt
    it with a hardware module; if any production variant uses one, do not specify ``KmsKeyId``, or the call to
    CreateEndpointConfig fails. The family classification is the one of ``supports_volume_kms`` in
    ``mlops_constructs/endpoint.py`` (tests keep the two in step).
    """

    id = "E9022"
    shortdesc = "Endpoint config KmsKeyId with an instance type that has instance storage"
    description = "CreateEndpointConfig fails when KmsKeyId is set and a variant uses NVMe instance storage"
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html"
    tags = ["mlops", "sagemaker", "kms"]  # noqa: RUF012 -- cfn-lint declares tags as a class-level list

    def match(self, cfn: Template) -> list[RuleMatch]:
        """Configs with KmsKeyId and a literal instance type that has instance storage."""
        matches = []
        for logical_id, resource in resources(cfn.template, "AWS::SageMaker::EndpointConfig"):
            props = properties(resource)
            if "KmsKeyId" not in props:
                continue
            for index, variant in enumerate(variants(props)):
                instance_type = variant.get("InstanceType")
                if isinstance(instance_type, str) and has_instance_storage(instance_type):
                    matches.append(
                        RuleMatch(
                            ["Resources", logical_id, "Properties", "ProductionVariants", index, "InstanceType"],
                            f"{logical_id}: {instance_type} has NVMe instance storage, so KmsKeyId must be left out "
                            "(CreateEndpointConfig, KmsKeyId)",
                        )
                    )
        return matches
