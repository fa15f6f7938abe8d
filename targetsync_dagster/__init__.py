"""The Dagster layer (SPEC 7). A placeholder until its issue lands: it defines nothing yet
and imports no Dagster, so the distribution installs without it."""
