"""External, Interpol-style registries: adapters (stolen-vehicle databases, screening
services, national REST registries), the federated fan-out of checks, feed imports
and a simulator of the protocols.  See ``integrations/README.md``."""
