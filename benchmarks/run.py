"""`make bench`: run every benchmark script in this folder, one process each."""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run.py")
    if len(sys.argv) > 1:
        scripts = [p for p in scripts if p.stem in sys.argv[1:]]
    failed = []
    for script in scripts:
        print(f"\n### {script.stem}", flush=True)
        started = time.monotonic()
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"### {script.stem}: exit {rc} in {time.monotonic() - started:.1f} s", flush=True)
        if rc:
            failed.append(script.stem)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
