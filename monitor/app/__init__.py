"""The application: the check and the outbox that drive the core, the record and the sources;
and the shells people meet (the CLI, the service and its scheduler, the dashboard)."""
