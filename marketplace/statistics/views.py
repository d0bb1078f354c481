"""HTTP glue of the statistics domain."""
