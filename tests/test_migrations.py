"""The migrated schema matches the models: a model change without its migration fails here."""

from marketplace.db_drift import schema_differences


def test_models_and_migrations_agree(database) -> None:
    with database.engine.connect() as connection:
        differences = schema_differences(connection)
    assert differences == [], "\n".join(map(str, differences))
