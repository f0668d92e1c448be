"""``make demo``: start a seeded local Polaris Hub, run examples/quickstart.py against it, stop the Hub.

The Hub is stopped whatever happens; the exit code is the quickstart's (0 only if every step worked).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from polaris.testing import LocalHub

HERE = Path(__file__).resolve().parent
QUICKSTART_TIMEOUT_S = 600
DEMO_USER = "demo-user"


def main() -> int:
    console = Console()
    console.rule("[bold]Starting a local Polaris Hub (seed: demo)")
    with tempfile.TemporaryDirectory(prefix="polaris-demo-") as cache, LocalHub(seed="demo") as hub:
        console.print(f"Local Hub ready at [bold]{hub.url}[/] (S3 at {getattr(hub, 's3_endpoint', '?')})")
        env = {
            **os.environ,
            **hub.env(),
            "POLARIS_USERNAME": DEMO_USER,
            "POLARIS_PASSWORD": hub.users[DEMO_USER],
            "POLARIS_CACHE_DIR": cache,  # a fresh cache: every download really happens
        }
        try:
            proc = subprocess.run(
                [sys.executable, str(HERE / "quickstart.py")], env=env, timeout=QUICKSTART_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            console.print(f"[red]the quickstart did not finish within {QUICKSTART_TIMEOUT_S} s[/]")
            return 1
        console.rule("[bold]Stopping the local Hub")
    if proc.returncode == 0:
        console.print("[bold green]Demo finished: every step worked.[/]")
    else:
        console.print(f"[bold red]Demo failed (exit code {proc.returncode}).[/]")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
