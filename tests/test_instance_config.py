"""The Dagster instance configuration the project ships: telemetry off, ingest runs limited by tag, and the
ingest jobs carry that tag (so the limit applies to every sensor-launched ingest)."""

from dagster import DagsterInstance

from genolake_assets.cli import DAGSTER_YAML, _prepare_dagster_home
from genolake_assets.jobs import RUN_KIND, ingest_clinvar_job, ingest_vcf_job, publish_job
from genolake_assets.mode import current


def test_ingest_runs_are_limited_by_tag(home):
    dagster_home = _prepare_dagster_home(current())
    assert (dagster_home / "dagster.yaml").read_text() == DAGSTER_YAML.read_text()
    instance = DagsterInstance.get()
    try:
        assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
        queue = instance.get_concurrency_config().run_queue_config  # what the run queue daemon applies
        assert {"key": RUN_KIND, "value": "ingest", "limit": 2} in queue.tag_concurrency_limits
        assert queue.max_concurrent_runs == 4
        assert instance.telemetry_enabled is False
    finally:
        instance.dispose()
    assert ingest_vcf_job.tags[RUN_KIND] == "ingest" and ingest_clinvar_job.tags[RUN_KIND] == "ingest"
    assert RUN_KIND not in (publish_job.tags or {})
