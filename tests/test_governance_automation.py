"""Grants follow the data under `genolake dev`: the policy file is observed on start and whenever it changes (the
policy sensor), and the automation then requests governance/permissions after each publish, its matches_policy
check with it. The daemon's part is played here in this process: the sensors' ticks (their observations recorded
as the daemon records them), the automation sensors' evaluations (each over its own target, with its own cursor)
and the runs they request."""

import shutil

import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    Definitions,
    build_sensor_context,
    evaluate_automation_conditions,
)

from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests

from genolake_assets.definitions import automation_sensor, defs, qc_automation_sensor
from genolake_assets.layers.governance import POLICY_KEY, policy_version
from genolake_assets.sensors import landing_sensor, policy_file_sensor
from resources import resources_for_mode
from resources.governance import DEFAULT_POLICY
from tests.conftest import CLINVAR, VCF_100, VCF_COMT, copy_with_index

PERMISSIONS = AssetKey(["governance", "permissions"])
CATALOG = {AssetKey(["catalog", t]) for t in ("sites", "calls", "samples", "clinvar")}
MATCHES_POLICY = AssetCheckKey(PERMISSIONS, "matches_policy")
QC = {AssetKey(["qc", "variant_qc"]), AssetKey(["qc", "sample_qc"])}
NOTHING = (set(), set())


@pytest.fixture
def policy(tmp_path, monkeypatch):
    """A copy of the policy file as GENOLAKE_POLICY, free to edit."""
    path = tmp_path / "policies.yaml"
    shutil.copyfile(DEFAULT_POLICY, path)
    monkeypatch.setenv("GENOLAKE_POLICY", str(path))
    return path


def _edit(path):
    with open(path, "a") as handle:  # a new sha256, the same grants
        handle.write("\n# edited\n")


class Daemon:
    """The daemon's part for one instance: sensor ticks with their cursors, automation ticks, requested runs."""

    def __init__(self, instance):
        self.instance = instance
        self.resources = resources_for_mode()  # built now: the code location's were built for another home
        self.defs = Definitions(assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs,
                                resources=self.resources, executor=defs.executor)
        self.graph = self.defs.resolve_asset_graph()
        self.cursors, self.requests = {}, {}

    def sensor(self, sensor_def, **resources):
        result = sensor_def(build_sensor_context(instance=self.instance, cursor=self.cursors.get(sensor_def.name),
                                                 resources=resources or None))
        self.cursors[sensor_def.name] = result.cursor
        for event in result.asset_events:  # as the sensor daemon does with a SensorResult's asset events
            self.instance.report_runless_asset_event(event)
        for request in result.dynamic_partitions_requests:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return result

    def observe_policy(self) -> list:
        return self.sensor(policy_file_sensor).asset_events

    def land(self, *paths):
        """Files dropped in the landing zone; the landing sensor's runs (ingest_vcf / ingest_clinvar) run."""
        for path in paths:
            copy_with_index(path, self.resources["landing"].root)
        result = self.sensor(landing_sensor, landing=self.resources["landing"], storage=self.resources["storage"])
        assert result.run_requests
        for request in result.run_requests:
            run = self.defs.resolve_job_def(request.job_name).execute_in_process(
                instance=self.instance, partition_key=request.partition_key, tags=dict(request.tags),
                raise_on_error=False)
            assert run.success, request

    def automation(self, sensor_def) -> set:
        """One tick of an automation sensor: the asset keys it requests. Its run requests are built as the daemon
        builds them (which assets and which checks each run executes) and kept for `launch`."""
        result = evaluate_automation_conditions(defs=self.defs, instance=self.instance,
                                                asset_selection=sensor_def.asset_selection,
                                                cursor=self.cursors.get(sensor_def.name))
        self.cursors[sensor_def.name] = result.cursor
        self.requests[sensor_def.name] = build_run_requests(result._requested_subsets, self.graph, None, False)
        return {r.key for r in result.results if isinstance(r.key, AssetKey) and r.true_subset.size}

    def loop(self) -> tuple[set, set]:
        """One loop of the daemon: what publish_automation and qc_automation request."""
        return self.automation(automation_sensor), self.automation(qc_automation_sensor)

    def launch(self, sensor_def) -> list:
        """The runs the sensor's last tick requested, each with exactly its requested assets and checks."""
        job = self.defs.resolve_implicit_global_asset_job_def()
        runs = []
        for request in self.requests.pop(sensor_def.name):
            checks = None if request.asset_check_keys is None else set(request.asset_check_keys)
            run = job.get_subset(asset_selection=set(request.asset_selection or []), asset_check_selection=checks
                                 ).execute_in_process(instance=self.instance, raise_on_error=False)
            assert run.success, request
            runs.append(run)
        return runs


def test_the_policy_is_observed_on_start_and_when_it_changes(home, policy):
    with DagsterInstance.ephemeral() as instance:
        daemon = Daemon(instance)
        (first,) = daemon.observe_policy()  # the first tick: on start
        assert first.asset_key == POLICY_KEY and first.tags["dagster/data_version"] == policy_version(policy)
        assert daemon.observe_policy() == []  # unchanged: nothing
        assert daemon.observe_policy() == []

        _edit(policy)
        (changed,) = daemon.observe_policy()
        assert changed.tags["dagster/data_version"] == policy_version(policy) != first.tags["dagster/data_version"]
        assert daemon.observe_policy() == []
        latest = instance.fetch_observations(POLICY_KEY, limit=1).records[0].asset_observation
        assert latest.tags["dagster/data_version"] == policy_version(policy)

        # compared with the recorded observation, not only the cursor: a sensor reset observes nothing new...
        assert Daemon(instance).observe_policy() == []
    with DagsterInstance.ephemeral() as fresh:  # ...and an instance that has no observation gets one
        assert len(Daemon(fresh).observe_policy()) == 1

    policy.unlink()
    with DagsterInstance.ephemeral() as instance:
        result = policy_file_sensor(build_sensor_context(instance=instance))
        assert not result.asset_events and "no policy file" in result.skip_reason.skip_message


def test_permissions_wait_for_the_policy_observation_and_follow_its_changes(home, policy):
    """No data: every table reported materialized. The policy never observed (under `genolake dev` before the
    policy sensor), the automation never requests the permissions; observed, it does; edited, again. Every run
    request that applies the permissions evaluates matches_policy too."""
    graph = defs.resolve_asset_graph()
    with DagsterInstance.ephemeral() as instance:
        daemon = Daemon(instance)
        for key in graph.get(PERMISSIONS).parent_keys - {POLICY_KEY}:
            instance.report_runless_asset_event(AssetMaterialization(key))
        assert PERMISSIONS not in daemon.automation(automation_sensor)  # the bug: the policy counts as missing
        assert PERMISSIONS not in daemon.automation(automation_sensor)

        assert daemon.observe_policy()
        assert PERMISSIONS in daemon.automation(automation_sensor)
        _checks_the_permissions(daemon.requests[automation_sensor.name])
        instance.report_runless_asset_event(AssetMaterialization(PERMISSIONS))  # applied (the check not run)
        assert PERMISSIONS not in daemon.automation(automation_sensor)

        _edit(policy)
        assert daemon.observe_policy()
        assert daemon.automation(automation_sensor) == {PERMISSIONS}
        _checks_the_permissions(daemon.requests[automation_sensor.name])
        assert PERMISSIONS not in daemon.automation(automation_sensor)  # requested once per change

        # a catalogued table changes: annotation, report and permissions in one run, which names the annotation's
        # and the report's checks (in their assets' ops): matches_policy must be among them
        instance.report_runless_asset_event(AssetMaterialization(AssetKey(["catalog", "sites"])))
        requested = daemon.automation(automation_sensor)
        assert {AssetKey(["annotated", "annotated_variants"]), AssetKey(["reports", "drug_response_report"]),
                PERMISSIONS} <= requested
        _checks_the_permissions(daemon.requests[automation_sensor.name])


def _checks_the_permissions(requests):
    """The run request that applies the permissions also evaluates matches_policy."""
    (request,) = [r for r in requests if PERMISSIONS in (r.asset_selection or [])]
    assert request.asset_check_keys is None or MATCHES_POLICY in request.asset_check_keys, request.asset_check_keys


@pytest.mark.slow
def test_after_files_land_through_the_sensor_the_permissions_are_applied_and_checked(home, policy, spark):
    """Acceptance of issue 20, item 4: files land through the landing sensor; the automation, with no click,
    materializes governance/permissions and matches_policy passes: after the first files (once QC, which the
    permissions also govern, exists), after a new file (in the catalog's own run, and again after its QC), and
    after a policy edit. Both automation sensors tick after every run, as on every loop of the daemon."""
    with DagsterInstance.ephemeral() as instance:
        daemon = Daemon(instance)
        assert daemon.observe_policy()  # on start, with the automation's first ticks (nothing to do yet)
        assert daemon.loop() == NOTHING
        daemon.land(VCF_100, CLINVAR)

        # first files: catalog, annotation, report; then QC; then the permissions over every governed table
        published, qc = daemon.loop()
        assert CATALOG <= published and PERMISSIONS not in published and not qc  # QC, a dependency, is missing
        daemon.launch(automation_sensor)
        assert daemon.loop() == (set(), QC)
        daemon.launch(qc_automation_sensor)
        assert daemon.loop() == ({PERMISSIONS}, set())
        _applied_and_checked(daemon.launch(automation_sensor))
        assert daemon.loop() == NOTHING

        # a new file (a new partition): the permissions in the catalog's own run (with the annotation and the
        # report, whose own checks Dagster names in the run: matches_policy must be named too), again after QC
        daemon.land(VCF_COMT)
        published, qc = daemon.loop()
        assert CATALOG - {AssetKey(["catalog", "clinvar"])} <= published and PERMISSIONS in published and not qc
        _applied_and_checked(daemon.launch(automation_sensor))
        assert daemon.loop() == (set(), QC)
        daemon.launch(qc_automation_sensor)
        assert daemon.loop() == ({PERMISSIONS}, set())
        _applied_and_checked(daemon.launch(automation_sensor))
        assert daemon.loop() == NOTHING

        # the policy edited: observed, applied again
        _edit(policy)
        assert daemon.observe_policy()
        assert daemon.loop() == ({PERMISSIONS}, set())
        _applied_and_checked(daemon.launch(automation_sensor))
        assert daemon.loop() == NOTHING


def _applied_and_checked(runs):
    """One of the runs applied the permissions, and that run evaluated matches_policy, which passed."""
    (run,) = [r for r in runs if any(e.asset_key == PERMISSIONS for e in r.get_asset_materialization_events())]
    (applied,) = [e for e in run.get_asset_materialization_events() if e.asset_key == PERMISSIONS]
    assert applied.materialization.metadata["grants"].value > 0
    (check,) = [e for e in run.get_asset_check_evaluations() if e.asset_key == PERMISSIONS]
    assert check.check_name == "matches_policy" and check.passed
