"""Extract department feeds into the raw layer, generic by kind (sql / files / http)."""
