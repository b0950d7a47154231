"""What every benchmark shares: its JSON output and the process's peak memory."""

from __future__ import annotations

import json
import resource
from typing import Any, Mapping, Optional


def emit_report(report: Mapping[str, Any], out: Optional[str] = None) -> None:
    """Print the report as indented JSON, and also write it to ``out`` when given."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        with open(out, 'w', encoding='utf-8') as stream:
            stream.write(text + '\n')


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
