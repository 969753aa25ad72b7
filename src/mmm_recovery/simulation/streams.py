"""Common random numbers: one named random stream per source of randomness in a dataset.

A dataset's draws come from streams keyed by the seed of the Generator it is given (the study's
``[base_seed, replicate]``: :meth:`~mmm_recovery.core.spec.Study.seed_sequence`) and the stream's
name, not from one Generator consumed in order. So two scenarios that differ in one factor
share every other draw exactly: the same latent spend, flighting, competitor, events and noise
shocks at another signal-to-noise ratio; the same first weeks at another data length (every
stream draws week by week); the same spend and noise with or without a lift test or a demand
shock. Paired contrasts between such cells carry no between-dataset variance from the shared
draws (Morris, White & Crowther 2019, sec. 4.3).
"""

from __future__ import annotations

import zlib

import numpy as np

#: every stream a dataset draws from, in the order :func:`mmm_recovery.simulation.simulate.simulate`
#: uses them (the order does not matter: each is its own Generator)
STREAMS = (
    "truth",
    "spend",
    "flighting",
    "competitor",
    "events",
    "shock",
    "proxy",
    "noise",
    "lift_tests",
)


def streams(rng: np.random.Generator) -> dict[str, np.random.Generator]:
    """One Generator per name of :data:`STREAMS`, keyed by ``rng``'s seed and the name.

    The streams depend on the seed ``rng`` was created from, not on its state: pass a fresh
    Generator per dataset (``Study.rng``), as every caller does.
    """
    seq = rng.bit_generator.seed_seq
    if not isinstance(seq, np.random.SeedSequence):  # a Generator from a bit generator's state
        raise TypeError("simulate needs a Generator created from a seed (np.random.default_rng)")
    return {
        name: np.random.default_rng(
            np.random.SeedSequence(
                seq.entropy, spawn_key=(*seq.spawn_key, zlib.crc32(name.encode()))
            )
        )
        for name in STREAMS
    }
