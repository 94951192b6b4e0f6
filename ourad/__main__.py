"""`python -m ourad`: print the notes' forward-mode example as ourad traces it."""
from . import trace, xp


def notes_example(x1, x2):
    v1 = x1 / x2
    v2 = xp.sin(v1)
    v3 = xp.exp(x2)
    v4 = v1 - v3
    v5 = v2 + v4
    return v5 * v4


if __name__ == "__main__":
    for seed, name in [((1.0, 0.0), "df/dx1"), ((0.0, 1.0), "df/dx2")]:
        print(f"f(x1, x2) at (1.5, 0.5), tangent seed {seed} ({name}):")
        print(trace(notes_example, 1.5, 0.5, tangents=seed))
        print()
