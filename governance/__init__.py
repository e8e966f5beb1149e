"""Governance: which role may read which tables, columns and rows, from a reviewed policy file
(``governance/policies.yaml``), compiled into ``Grant`` records that both targets enforce: Lake Formation on AWS
and per-role views locally. Plain library: no dagster, no boto3.

- ``governance.model``: the policy file's model, ``load_policy`` and row-filter safety (``normalise_filter``).
- ``governance.compile``: policy -> ``Grant`` records for a target (``compile_policy``).
- ``governance.plan``: desired vs actual grants -> ``Plan`` (``diff``) and its text (``render``).
"""
