"""opsportal.parsing, and every place that read a number out of untrusted text with
``str.isdigit()`` + ``int()``: ``"²".isdigit()`` is true and ``int("²")`` raises, and
``int("\\u0661") == 1`` reads another script's digits as an id."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from notifications.channels import parse_retry_after
from opsportal.parsing import BIGINT_MAX, is_ascii_digits, parse_id, parse_int
from probes.engine import json_lookup
from readiness.selectors import slot_label

NOT_ASCII_DIGITS = [
    "\u00b2",
    "1\u00b2",
    "\u0661",
    "\U0001d7d9",
    "\uff11",
    "\u2460",
    "1_000",
    " 1",
    "1 ",
    "+1",
    "",
]


@pytest.mark.parametrize(
    "raw", [*NOT_ASCII_DIGITS, "-1", "0", "x", "1.0", "1e3", str(BIGINT_MAX + 1), "9" * 5000]
)
def test_parse_id_refuses_everything_but_a_positive_ascii_bigint(raw):
    assert parse_id(raw) is None


@pytest.mark.parametrize("raw", [None, True, False, 1.0, b"1", [1], 0, -5])
def test_parse_id_refuses_other_types_and_non_positive_ints(raw):
    assert parse_id(raw) is None


def test_parse_id_and_parse_int_accept_plain_numbers():
    assert parse_id("1") == 1
    assert parse_id("0042") == 42
    assert parse_id(str(BIGINT_MAX)) == BIGINT_MAX
    assert parse_id(7) == 7
    assert parse_int("-3") == -3
    assert parse_int("-3", min_value=0) is None
    assert parse_int("201", max_value=200) is None
    assert parse_int("--1") is None
    assert parse_int("-") is None
    assert is_ascii_digits("0123456789")
    assert not is_ascii_digits("\u00b2")


@pytest.mark.parametrize("raw", NOT_ASCII_DIGITS)
def test_parse_int_refuses_what_is_not_ascii(raw):
    assert parse_int(raw) is None


def test_retry_after_with_a_superscript_is_ignored_not_a_crash():
    # a webhook receiver's header: the delivery must not crash on it
    assert parse_retry_after("\u00b2") is None
    assert parse_retry_after("\u0661\u0662") is None
    assert parse_retry_after("12") == 12.0


def test_json_path_segments_are_ascii_indexes():
    document = {"checks": [{"ok": True}, {"ok": False}]}
    assert json_lookup(document, "checks.-1.ok") is False
    for path in ["checks.\u00b2.ok", "checks.--1.ok", "checks.\u0661.ok"]:
        with pytest.raises(KeyError):  # "not found", not "body is not JSON"
            json_lookup(document, path)


def test_slot_label_of_a_malformed_manager_slot():
    assert slot_label("manager:\u00b2", {2: "Payments"}) == "engineering manager (team \u00b2)"
    assert slot_label("manager:2", {2: "Payments"}) == "engineering manager of Payments"


@pytest.mark.django_db
def test_release_gate_command_with_a_superscript_reference_looks_it_up_by_name():
    with pytest.raises(CommandError) as exc:
        call_command("release_gate", "\u00b2", stdout=StringIO())
    assert exc.value.returncode == 2
