"""Storage: engines, the table schema, migrations, and SQL that is specific to SQLite."""
