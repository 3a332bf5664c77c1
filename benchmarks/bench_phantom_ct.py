"""CT phantom speed: a 512 x 512 x 60 calcium-scoring CT simulated in < 20 s on 2 CPU cores.

Also reports the truth's self-consistency: built epicardial fat volume against the
requested one, and the noise standard deviation against the requested one.
"""

from __future__ import annotations

import time

import numpy as np


def run() -> dict:
    from cardiolens.phantom import simulate_ct

    start = time.perf_counter()
    phantom = simulate_ct(seed=7, noise_hu=20.0, eat_ml=150.0)
    seconds = time.perf_counter() - start
    body = phantom.volume.array > -900
    noise_sd = float(np.std((phantom.volume.array - phantom.clean.array)[body]))
    return {
        "matrix": list(phantom.volume.shape),
        "simulate_ct_s": round(seconds, 2),
        "simulate_ct_goal_s": 20.0,
        "simulate_ct_ok": seconds < 20.0,
        "n_lesions": len(phantom.truth["lesions"]),
        "n_distractors": len(phantom.truth["distractors"]),
        "eat_built_ml": round(phantom.truth["eat"]["volume_ml"], 1),
        "eat_requested_ml": 150.0,
        "noise_sd_hu": round(noise_sd, 2),
        "noise_requested_hu": 20.0,
    }
