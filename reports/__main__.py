"""`python -m reports RESULTS.json -o OUT.html [--ad-baseline-json PREVIOUS.json]`: re-render
a report from its JSON."""
import argparse
import json
import sys
from pathlib import Path

from .writer import write_report


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m reports", description=__doc__)
    p.add_argument("results", metavar="RESULTS.json", help="a conformance run's results.json")
    p.add_argument("-o", "--output", metavar="OUT.html", default=None,
                   help="where to write (default: index.html beside RESULTS.json)")
    p.add_argument("--ad-baseline-json", metavar="PREVIOUS.json", default=None,
                   help="a previous run's results.json: report new, fixed, unchanged")
    args = p.parse_args(argv)
    try:
        result = json.loads(Path(args.results).read_text())
        previous = json.loads(Path(args.ad_baseline_json).read_text()) \
            if args.ad_baseline_json else None
    except (OSError, json.JSONDecodeError) as exc:
        p.exit(2, f"python -m reports: cannot read {exc}\n")
    if not isinstance(result, dict) or "summary" not in result or "records" not in result:
        p.exit(2, f"python -m reports: {args.results} is not a results.json "
                  "(it needs 'summary' and 'records')\n")
    out = Path(args.output) if args.output else Path(args.results).with_name("index.html")
    write_report(result, out, previous=previous)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
