"""reconwb."""
