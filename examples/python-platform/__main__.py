"""A GCP training platform declared in Python through trainkit's GCP component package."""

import pulumi
import pulumi_trainkit_gcp as trainkit_gcp

config = pulumi.Config()
account_id = config.get("accountId") or "team-vision"
api_key = config.require_secret("apiKey")

platform = trainkit_gcp.TrainingPlatform(
    "training",
    region="us-central1",
    api=trainkit_gcp.TrainingApiSettingsArgs(
        image=config.require("image"),
        api_keys=api_key.apply(lambda key: {key: [account_id]}),
    ),
    cluster=trainkit_gcp.PlatformClusterArgs(
        # Who may reach the control plane: your office's and CI runner's egress ranges (or private_endpoint=True).
        authorized_cidr_blocks=config.require_object("clusterNetworks"),
        gpu_pools=[
            trainkit_gcp.GcpGpuPoolArgsArgs(name="l4", gpu="nvidia-l4", gpus_per_node=1, max_nodes=2, spot=True),
        ],
    ),
)

pulumi.export("apiUrl", platform.outputs.api_url)
pulumi.export("registryUrl", platform.outputs.registry_url)
pulumi.export("dataBucketUrl", platform.outputs.data_bucket_url)
