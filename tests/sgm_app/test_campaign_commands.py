"""`sgm campaign create --scheme`: people that do not fit the scheme are a one-line error before anything slow."""

from __future__ import annotations

import pytest

from tests.conftest import SgmCli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheme", "single", "--reader", "a@h.test", "--reader", "b@h.test"], "takes 1 --reader, got 2"),
        (["--scheme", "senior_review", "--reader", "a@h.test"], "scheme 'senior_review' needs --senior"),
        (["--reader", "a@h.test", "--reader", "b@h.test"], "scheme 'blind_double' needs --adjudicator"),
        (["--scheme", "ai_assisted", "--reader", "a@h.test", "--adjudicator", "c@h.test"], "leave out --adjudicator"),
        (["--scheme", "triple", "--reader", "a@h.test"], "unknown reading scheme 'triple'"),
    ],
)
def test_roles_that_do_not_fit_are_refused(sgm: SgmCli, args: list[str], message: str) -> None:
    result = sgm("campaign", "create", "c1", *args)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
