"""What the assets need from each resource, independent of the mode.

Assets are typed with these bases; ``resources_for_mode()`` binds the local faces (folders, SQLite catalog,
DuckDB) or the aws faces (S3, Glue, Athena). Each face implements every method below.
"""

from __future__ import annotations

from dagster import ConfigurableResource


class LandingZone(ConfigurableResource):
    """Where files arrive (a folder, an S3 prefix)."""

    def find(self, key: str):  # -> a landed file (``.location``, ``.kind``, ``.size``, ``.partition_key``) or None
        raise NotImplementedError

    def fetch(self, landed) -> str:
        """A local path htslib can read for a landed file (downloaded first when remote)."""
        raise NotImplementedError

    def remove(self, landed) -> None:
        raise NotImplementedError

    def accepted(self, landed) -> None:
        """Called once the file's raw copy is verified. Local: the file stays (the sensor skips published
        content). S3: the object is deleted from the landing bucket (only if it was not replaced meanwhile)."""


class Storage(ConfigurableResource):
    """The raw zone (immutable copies of accepted files) and quarantine (rejected files with their reason)."""

    def put_raw(self, kind: str, key: str, source: str, sha256: str, name: str, location: str) -> str:
        raise NotImplementedError

    def current_raw(self, kind: str, key: str) -> str:
        raise NotImplementedError

    def raw_source(self, kind: str, key: str) -> dict:
        raise NotImplementedError

    def mark_published(self, kind: str, key: str) -> None:
        raise NotImplementedError

    def is_published(self, kind: str, key: str, sha256: str) -> bool:
        raise NotImplementedError

    def retire_raw(self, kind: str, key: str) -> None:
        raise NotImplementedError

    def quarantine(self, source: str, location: str, reason: dict) -> str:
        raise NotImplementedError

    def quarantine_count(self) -> int:
        raise NotImplementedError


class Catalog(ConfigurableResource):
    """The Iceberg catalog; ``lakehouse()`` returns the plain-library object (``resources.lakehouse``)."""

    def lakehouse(self):
        raise NotImplementedError


class QueryEngine(ConfigurableResource):
    """SQL over the catalog at a recorded snapshot set."""

    def lakehouse(self):
        """The catalog's ``Lakehouse`` (where the recorded snapshot sets are)."""
        raise NotImplementedError

    def resolve(self, as_of: str | None):
        """The snapshot set a query reads: the newest recorded one, or the one ``--as-of`` names."""
        lakehouse = self.lakehouse()
        return lakehouse.set_as_of(as_of) if as_of else lakehouse.current_set()

    def query(self, sql: str, parameters: list | None = None, as_of: str | None = None):
        return self.query_at(sql, parameters, self.resolve(as_of))

    def query_at(self, sql: str, parameters: list | None, commit_set):
        raise NotImplementedError

    def query_as_role(self, sql: str, role: str, grants: list, commit_set):
        """``sql`` as ``role``: checked by allow-list (``governance.local.check_query``), then run on a DuckDB
        connection that holds only the role's views over the files of ``commit_set``, with no other file
        reachable (``resources.sql_views.role_connection``). ``GovernanceDenied`` when the query is refused."""
        from governance.local import selectable, scope_query

        from .sql_views import role_connection

        from genolake_assets.transforms.tables import TABLES

        checked = scope_query(sql, role, grants, TABLES, rewrite=False)
        con = role_connection(self.lakehouse(), commit_set, selectable(grants, role))
        try:
            return con.sql(checked).to_arrow_table()
        finally:
            con.close()

    def describe(self, table: str, commit_set) -> list[tuple[str, str, str | None]]:
        """(name, type, comment) of the table's columns as the engine serves them."""
        raise NotImplementedError
