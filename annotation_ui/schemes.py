"""Reading schemes: per campaign, a declarative table of who may see which reader's project in which phase."""

from __future__ import annotations

from dataclasses import dataclass

READING = "reading"  # first reads in progress
ADJUDICATION = "adjudication"  # discordant sides queued for the adjudicator
REVIEW = "review"  # first reads submitted, the senior reviews them
PHASES = (READING, ADJUDICATION, REVIEW)


@dataclass(frozen=True)
class Sight:
    """`viewer` may open the project of `owner` during `phases`; `write` lets them submit there."""

    viewer: str
    owner: str
    phases: frozenset[str]
    write: bool
    predictions: bool = False  # model predictions (AI) may be shown to the viewer
    # Only the owner's tasks under review (first read submitted) may be opened, never the project's lists.
    reviewed_only: bool = False


@dataclass(frozen=True)
class ReadingScheme:
    """A site-selectable way of reading a campaign."""

    name: str
    description: str
    roles: tuple[str, ...]
    sights: tuple[Sight, ...]

    def visible(self, viewer: str, phase: str) -> dict[str, bool]:
        """The roles whose project `viewer` may open in `phase`, mapped to whether they may write there."""
        out: dict[str, bool] = {}
        for sight in self.sights:
            if sight.viewer == viewer and phase in sight.phases:
                out[sight.owner] = out.get(sight.owner, False) or sight.write
        return out

    def predictions_shown(self, viewer: str, phase: str) -> bool:
        return any(s.viewer == viewer and phase in s.phases and s.predictions for s in self.sights)

    def reviewed_only(self, viewer: str, owner: str, phase: str) -> bool:
        """True when `viewer` may open only those tasks of `owner`'s project that are under review."""
        sights = [s for s in self.sights if s.viewer == viewer and s.owner == owner and phase in s.phases]
        return bool(sights) and all(s.reviewed_only for s in sights)

    @property
    def shows_predictions(self) -> tuple[str, ...]:
        """The roles that may be shown model predictions in some phase."""
        return tuple(r for r in self.roles if any(s.viewer == r and s.predictions for s in self.sights))


def _own(role: str, phases: tuple[str, ...], *, write: bool = True, predictions: bool = False) -> Sight:
    return Sight(role, role, frozenset(phases), write, predictions)


_BLIND = (
    _own("reader_1", (READING, ADJUDICATION)),
    _own("reader_2", (READING, ADJUDICATION)),
)

SCHEMES: dict[str, ReadingScheme] = {
    s.name: s
    for s in (
        ReadingScheme(
            "single",
            "One reader per exam; nobody else sees the read.",
            ("reader_1",),
            (_own("reader_1", (READING,)),),
        ),
        ReadingScheme(
            "blind_double",
            "Two blind readers; the adjudicator sees both reads of discordant sides, only once they are queued.",
            ("reader_1", "reader_2", "adjudicator"),
            (*_BLIND, _own("adjudicator", (ADJUDICATION,))),
        ),
        ReadingScheme(
            "blind_double_ai",
            "As blind_double, and the adjudicator may also see the model's predictions.",
            ("reader_1", "reader_2", "adjudicator"),
            (*_BLIND, _own("adjudicator", (ADJUDICATION,), predictions=True)),
        ),
        ReadingScheme(
            "open_consensus",
            "Two readers who see each other's reads at any time (read-only) and agree on one.",
            ("reader_1", "reader_2"),
            (
                _own("reader_1", (READING,)),
                _own("reader_2", (READING,)),
                Sight("reader_1", "reader_2", frozenset((READING,)), write=False),
                Sight("reader_2", "reader_1", frozenset((READING,)), write=False),
            ),
        ),
        ReadingScheme(
            "senior_review",
            "A first reader, then a senior who sees each first read (read-only) as soon as it is submitted, "
            "and only the reads submitted.",
            ("reader_1", "senior"),
            (
                _own("reader_1", (READING,)),  # a task under review is read-only for its first reader
                _own("reader_1", (REVIEW,), write=False),
                _own("senior", (READING, REVIEW)),  # the senior's project holds only the tasks under review
                Sight("senior", "reader_1", frozenset((READING, REVIEW)), write=False, reviewed_only=True),
            ),
        ),
        ReadingScheme(
            "ai_assisted",
            "AI-assisted read: one reader who sees the model's predictions as pre-annotations.",
            ("reader_1",),
            (_own("reader_1", (READING,), predictions=True),),
        ),
    )
}
DEFAULT_SCHEME = "blind_double"


class SchemeError(ValueError):
    """An unknown scheme or phase; the message lists the valid ones."""


def scheme_named(name: str) -> ReadingScheme:
    if name not in SCHEMES:
        raise SchemeError(f"unknown reading scheme {name!r}; choose one of {', '.join(SCHEMES)}")
    return SCHEMES[name]


def check_phase(phase: str) -> str:
    if phase not in PHASES:
        raise SchemeError(f"unknown phase {phase!r}; choose one of {', '.join(PHASES)}")
    return phase
