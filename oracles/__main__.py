"""`python -m oracles ...` is `ad-conformance ...`."""
from .cli import main

raise SystemExit(main())
