"""lenswatch central collector: ingest API, storage, tickets, live pages (docs/collector.md)."""
