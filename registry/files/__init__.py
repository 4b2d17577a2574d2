"""Files the registry reads and writes: report files (import, export), bulk-check uploads and results."""
