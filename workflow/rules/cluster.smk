# Resources by rule name (sharegrad.pipeline.cluster): included last, after every
# rule exists, so a rule added in any .smk file is covered without a profile edit.
# Order of precedence: the profile's set-resources > the rule's own resources >
# its class here > the profile's default-resources.

import sharegrad.pipeline.cluster as cluster

for _rule in workflow.rules:
    _pinned = workflow.resource_settings.overwrite_resources.get(_rule.name, {})
    _own = cluster.own_resources(_rule)
    _request = cluster.gpu_request(config, _rule.name, _own)
    if _request is not None and "gpu" not in _pinned:
        _rule.resources["gpu"] = _request
    _gpus = _request if _request is not None else _own.get("gpu")
    if ("ranks" in _own or (isinstance(_gpus, int) and _gpus > 1)) and "nodes" not in _own:
        # A multi-GPU job is torchrun's ranks started inside one job: keep them on one node.
        _rule.resources["nodes"] = 1

workflow.localrules(*cluster.local_rules([_rule.name for _rule in workflow.rules]))

# The workstation profile caps the sum of `gpu` at the cards in the box; on a
# cluster SLURM hands out the GPUs, and that cap would only serialise the jobs.
if workflow.non_local_exec and not workflow.dryrun and "gpu" in workflow.global_resources:
    workflow.global_resources["gpu"] = None
