"""Great Expectations 1.x suites, run in an ephemeral context (no files, no network, no progress bars)."""

from __future__ import annotations

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

CLINVAR_ASSEMBLIES = ["GRCh37", "GRCh38", "NCBI36"]


def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def clinvar_suite():
    import great_expectations as gx

    suite = gx.ExpectationSuite(name="clinvar")
    e = gx.expectations
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="allele_id"))
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="clinical_significance"))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="assembly", value_set=CLINVAR_ASSEMBLIES))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="position_vcf", min_value=1))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="reference_allele_vcf", regex=r"^[ACGTN]+$"))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="alternate_allele_vcf", regex=r"^[ACGTN]+$"))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="rsid", regex=r"^rs\d+$"))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=["allele_id", "assembly", "chromosome"]))
    return suite


def validate_pandas(frame, build_suite=clinvar_suite) -> dict:
    """Run the suite ``build_suite()`` makes on a pandas frame.

    Returns {'success', 'evaluated', 'failed': ['<expectation> <column>: <n> unexpected, e.g. [...]']}.
    GX needs its context before a suite can be built, hence a builder rather than a suite.
    """
    context = _context()
    suite = build_suite()
    source = context.data_sources.add_pandas(suite.name)
    batch = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": frame}
    )
    result = batch.validate(suite)
    failed = []
    for item in result.results:
        if not item.success:
            config = item.expectation_config
            details = item.result or {}
            failed.append(
                f"{config.type} {config.kwargs.get('column') or config.kwargs.get('column_list')}: "
                f"{details.get('unexpected_count', '?')} unexpected, e.g. {details.get('partial_unexpected_list', [])[:5]}"
            )
    return {"success": bool(result.success), "evaluated": len(result.results), "failed": failed}
