"""Adapters to external, Interpol-style registries (stolen-vehicle databases,
screening services, national registries).  Filled by the external-registries
work; a check does not call any external source yet."""
