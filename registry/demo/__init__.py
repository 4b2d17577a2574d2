"""Generated data: the demo registry (``irontrace demo``), benchmark registries and damaged readings.

Nothing in the application's core imports this package; the CLI's ``demo``
command, ``bench/`` and ``tests/`` do.
"""

from __future__ import annotations

from registry.demo.damage import CORRUPTION_KINDS, corrupt, corrupted_readings
from registry.demo.reports import demo_reports, generate_reports, tulkubas_case, unregistered_serials

__all__ = ["CORRUPTION_KINDS", "corrupt", "corrupted_readings", "demo_reports", "generate_reports",
           "tulkubas_case", "unregistered_serials"]
