"""Quality gates (GX Core 1.x) and write-audit-publish."""
