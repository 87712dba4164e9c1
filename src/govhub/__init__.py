"""County governance data hub: the logic that Airflow DAGs, dbt and the GX gate call."""

__version__ = "0.1.0"
