"""Writing a benchmark's latest table into bench/RESULTS.md, one section per benchmark."""
from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(title: str, description: str, table: str) -> None:
    text = (RESULTS.read_text() if RESULTS.exists()
            else "# Benchmark results\n\nLatest figures; each section is rewritten by its benchmark.\n")
    marker = f"## {title}"
    before, _, rest = text.partition(marker)
    after = ""
    if rest:
        _, _, after = rest.partition("\n## ")
        after = ("\n## " + after) if after else ""
    section = (f"{marker}\n\nRun {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
               f"Python {platform.python_version()}. {description}\n\n{table}\n")
    RESULTS.write_text(before.rstrip() + "\n\n" + section + after)
