"""Every tunable of the per-camera judgement, in one place, with the reason for each value.

The defaults are what the agent and `lenswatch analyze` use. They were chosen on the
envelope's TUNING part only (benchmarks/ENVELOPE.md); the published figures come from its
validation part, which no threshold here has seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contract import PICTURE_FAULTS


@dataclass(slots=True)
class FaultTiming:
    """How long a fault must hold before it is raised, and be gone before it is cleared."""

    raise_after: float
    clear_after: float


def _timings() -> dict[str, FaultTiming]:
    return {
        # A person close to the lens, an umbrella, a bird: seconds, not six.
        "blocked": FaultTiming(6.0, 8.0),
        "blur": FaultTiming(6.0, 8.0),
        "ripple": FaultTiming(5.0, 8.0),
        "frozen": FaultTiming(6.0, 4.0),
        "overexposed": FaultTiming(10.0, 8.0),
        # A passing lorry's shadow or a gust shaking the mount lasts seconds; a bump stays.
        "moved": FaultTiming(10.0, 10.0),
        # Lights switched off for a moment, a car's headlights sweeping away: not yet dark.
        "dark": FaultTiming(8.0, 8.0),
    }


@dataclass(slots=True)
class HealthSettings:
    """Tunables of the judgement; the defaults are what the agent and `analyze` use."""

    faults: tuple[str, ...] = PICTURE_FAULTS
    timing: dict[str, FaultTiming] = field(default_factory=_timings)
    learn_seconds: float = 6.0          # healthy picture needed before judging against it
    learn_min_samples: int = 4
    adapt_seconds: float = 600.0        # baseline time constant once learned
    miss_tolerance: float = 4.5         # a pending fault survives one missed 2 s sample
    max_gap: float = 30.0               # a longer gap between samples adapts as this long
    # blocked: a cell is covered when its texture fell below this fraction of its baseline
    covered_ratio: float = 0.35
    blocked_fraction: float = 0.3      # of textured cells; partly covered edge cells keep texture
    textured_cell: float = 0.012        # brightness-normalised texture of an informative cell
    # blocked, partly: in at least `blocked_fraction` of the cells whose reference detail is
    # reliable (band-pass energy >= `detail_energy`, well above sensor noise, in cells lit to
    # `lit_cell` grey levels), less than `covered_visible` of that detail still shows, while
    # the best-seen quarter of the view keeps at least `intact_gain` of it.
    covered_visible: float = 0.62
    cover_soft: float = 0.8           # detail amplitude of the covered cells vs the reference
    intact_gain: float = 0.6
    detail_energy: float = 2.0
    lit_cell: float = 20.0
    # blur: sharpness (fine/coarse gradient) below this fraction of baseline, or texture
    # everywhere below `blur_texture` with the scene layout intact
    blur_sharpness: float = 0.78
    blur_texture: float = 0.45
    blur_sharpness_confirmed: float = 0.86
    blur_combined: float = 0.72
    # ... also against the confirmed reference's sharpness, while the light is within this
    # fraction of the reference's (a slow creep the baseline would learn)
    reference_light: float = 0.3
    layout_kept: float = 0.75
    layout_blur: float = 0.93         # a partly textureless view this similar is blur
    foreign_layout: float = 0.5       # below this the view's layout is gone
    # blocked, not blur: texture lost under a colour the view did not have. Chroma levels
    # (Cb/Cr, 0..255 scale) the mean colour moved, and moved away from grey; white-balance
    # drift stays within a few levels, a thin coat of coloured paint moves it by 10-30.
    tint_shift: float = 8.0
    # ripple: a spectral peak this much (natural log of amplitude) above its surroundings,
    # relative to the baseline spectrum
    ripple_peak: float = 0.85
    ripple_peak_steady: float = 0.5   # ... or this much, on the same bin two samples running
    ripple_peak_faint: float = 0.38   # ... or this much, on the same bin three samples running
    # Once raised, the same steady peak holds the fault down to this score: faint interference
    # hovers around the raise level, and an alert that clears and re-raises every minute is
    # noise to an operator. A repaired cable drops the peak far below it, so clearing is prompt.
    ripple_peak_hold: float = 0.35
    ripple_profile_margin: float = 0.3  # extra asked of the (noisier) row/column profiles
    # frozen: the same picture again (`frozen_exact`, 90 % of cells), or the 75th-percentile
    # cell change below `frozen_rel` of the usual change and below `frozen_abs` grey levels:
    # a frozen picture re-encoded, far below any live sensor's noise. (0.6 let a scene whose
    # wind or traffic stopped read as frozen: 238 raises in the validation part's 315
    # camera-hours, while every freeze the tuning part renders is found by the identical
    # pictures alone.)
    frozen_rel: float = 0.2
    frozen_abs: float = 0.15
    frozen_exact: float = 0.02
    overexposed_fraction: float = 0.6
    # moved: the view's detail changed (`moved_gate` of the informative cells lost their
    # reference similarity), and four regions agree on one rigid motion of at least
    # `moved_shift_pct` of the view or `moved_rotation_deg` degrees.
    moved_gate: float = 0.3
    moved_shift_pct: float = 2.5
    moved_rotation_deg: float = 1.5
    moved_residual_px: float = 1.5
    moved_response: float = 0.05
    moved_layout: float = 0.35        # the old whole-layout test, for a view turned away
    # ... or, when the regions disagree, the whole view turned by >= `moved_rotation_deg`
    # and the reference turned so matches the picture (phase-correlation response)
    moved_rotation_response: float = 0.3
    # dark: the view lost most of its light (mean luma below `dark_level` and below
    # `dark_ratio` of its baseline or reference) and no part of it is lit (90th percentile
    # cell below `dark_lit`): lights out or a failed IR illuminator. A dark car park with
    # its lamps on keeps lit cells; dusk keeps most of the light (auto exposure).
    dark_level: float = 24.0
    dark_ratio: float = 0.5
    dark_lit: float = 40.0
    # dimming on the way to dark: blur and a near-frozen picture are not judged there, as a
    # dim picture loses fine detail and noise to the encoder first.
    dim_level: float = 45.0
    snapshots: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(PICTURE_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {list(PICTURE_FAULTS)}")
