"""The Primitives section, generated rather than transcribed: one claim `op-<name>` for every
primitive the other sections' claims apply (found by recording them, `oracles.primitives`),
each checked alone over its domain, its cases and its kinks, in both modes. It reads no part
of the notes: `coverage_map.GENERATED` names it, and the coverage test checks it against the
recording."""
from oracles.claims import catalogue_files, loaded_module
from oracles.primitives import section

_OTHERS = [p for p in catalogue_files() if p.stem != __name__.rpartition(".")[2]]

CLAIMS = section([c for p in _OTHERS for c in loaded_module(p).CLAIMS])
