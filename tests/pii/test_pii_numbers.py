"""The PII guard on numbers: resident ID numbers, mobile numbers, bank card numbers."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from support.pii_samples import GB11643_SAMPLES, REGIONS, check_char, kinds, luhn_complete, make_id

from notary.pii import (
    PiiKind,
    is_resident_id,
    luhn_valid,
    mask_text,
    resident_id_check_digit,
    scan_text,
)

# ---------------------------------------------------------------- resident ID numbers


@pytest.mark.parametrize("number", GB11643_SAMPLES)
def test_published_sample_ids_are_valid_and_found(number: str) -> None:
    assert check_char(number[:17]) == number[17]
    assert resident_id_check_digit(number[:17]) == number[17]
    assert is_resident_id(number)
    [finding] = scan_text(f"身份证号：{number}。")
    assert finding.kind is PiiKind.ID_CARD
    assert finding.span == (5, 23)
    assert finding.masked_preview == f"{number[:6]}********{number[-4:]}"


def test_generated_ids_agree_with_the_independent_check_digit() -> None:
    rng = random.Random(11643)
    for _ in range(500):
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(30_000))
        body = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
        assert resident_id_check_digit(body) == check_char(body)
        assert is_resident_id(body + check_char(body))


def test_every_wrong_check_digit_is_not_an_id() -> None:
    number = make_id()
    for wrong in sorted(set("0123456789X") - {number[-1]}):
        candidate = number[:17] + wrong
        assert not is_resident_id(candidate)
        assert scan_text(f"号码 {candidate} 。") == []


def test_lower_case_x_check_digit_is_found() -> None:
    [finding] = scan_text("证件 11010519491231002x")
    assert finding.masked_preview == "110105********002X"


@pytest.mark.parametrize(
    ("region", "born"),
    [
        ("110105", "19901301"),  # month 13
        ("110105", "19900230"),  # 30 February
        ("110105", "18000101"),  # before 1850
        ("110105", "29990101"),  # in the future
        ("990105", "19900101"),  # no province 99
        ("000105", "19900101"),  # no province 00
        ("110005", "19900101"),  # a province with city 00
    ],
)
def test_implausible_region_or_birth_date_is_not_an_id(region: str, born: str) -> None:
    number = make_id(region, born)
    assert not is_resident_id(number)
    assert scan_text(number) == []


def test_id_inside_a_longer_digit_run_is_not_flagged() -> None:
    number = make_id()
    for text in (f"1{number}", f"{number}7", f"00{number}00", f"编号{number}5号"):
        assert scan_text(text) == [], text


def test_id_next_to_letters_and_punctuation_is_flagged() -> None:
    number = make_id()
    for text in (f"ID{number}", f"({number})", f"{number}号", f"证号:{number}\n"):
        assert kinds(scan_text(text)) == ["id_card"], text


def test_full_width_id_is_found_and_masked_in_its_own_width() -> None:
    number = make_id()
    wide = number.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    masked, [finding] = mask_text(f"身份证：{wide}")
    assert finding.masked_preview == f"{number[:6]}********{number[-4:]}"
    assert masked == f"身份证：{wide[:6]}********{wide[-4:]}"


# ---------------------------------------------------------------- mobile numbers


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138 **** 5678"),
        ("138-1234-5678", "138-****-5678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("+86-13812345678", "+86-138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("0086 13812345678", "0086 138****5678"),
        ("(+86)13812345678", "(+86)138****5678"),
        ("１３８１２３４５６７８", "１３８****５６７８"),
        ("19912345678", "199****5678"),
    ],
)
def test_mobile_formats_are_found_and_masked(text: str, masked: str) -> None:
    out, [finding] = mask_text(f"电话：{text}。")
    assert finding.kind is PiiKind.MOBILE
    assert out == f"电话：{masked}。"
    digits = "".join(c for c in text if c.isdigit())[-11:]
    assert finding.masked_preview == f"{digits[:3]}****{digits[-4:]}".translate(
        {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}
    )


@pytest.mark.parametrize(
    "text",
    [
        "12812345678",  # second digit 2 is no mobile network
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "8613812345678",  # inside a longer digit run
        "413812345678",
        "010-12345678",  # a landline
        "0571-87654321",
        "138****5678",  # already masked
    ],
)
def test_non_mobile_numbers_are_not_flagged(text: str) -> None:
    assert scan_text(f"号码{text}。") == []


# ---------------------------------------------------------------- bank card numbers


@pytest.mark.parametrize("number", ["4111111111111111", "5500000000000004", "6200000000000005"])
def test_well_known_test_card_numbers_are_found(number: str) -> None:
    assert luhn_valid(number)
    [finding] = scan_text(f"卡号{number}")
    assert finding.kind is PiiKind.BANK_CARD
    assert finding.masked_preview == f"{number[:6]}{'*' * (len(number) - 10)}{number[-4:]}"


@pytest.mark.parametrize("length", [16, 17, 18, 19])
def test_luhn_valid_cards_are_found_and_one_digit_off_is_not(length: int) -> None:
    rng = random.Random(length)
    for _ in range(50):
        number = luhn_complete(rng.choice(["62", "4", "9558", "52"]), length, rng)
        if is_resident_id(number):
            continue
        assert kinds(scan_text(f"账号 {number} 。")) == ["bank_card"]
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert not luhn_valid(wrong)
        assert scan_text(f"账号 {wrong} 。") == []


def test_spaced_and_dashed_cards_are_masked_keeping_their_layout() -> None:
    number = luhn_complete("622202", 19, random.Random(1))
    spaced = " ".join(number[i : i + 4] for i in range(0, 19, 4))
    out, [finding] = mask_text(f"卡号：{spaced}")
    assert finding.masked_preview == f"{number[:6]}*********{number[-4:]}"
    assert out == f"卡号：{number[:4]} {number[4:6]}** **** ***{number[15]} {number[16:]}"
    number16 = luhn_complete("4", 16, random.Random(2))
    dashed = "-".join(number16[i : i + 4] for i in range(0, 16, 4))
    assert kinds(scan_text(dashed)) == ["bank_card"]


def test_cards_inside_longer_digit_runs_or_with_unlikely_prefixes_are_not_flagged() -> None:
    rng = random.Random(7)
    number = luhn_complete("62", 16, rng)
    assert scan_text(f"9{number}") == []
    assert scan_text(f"{number}0000") == []
    assert scan_text(luhn_complete("1", 16, rng)) == []  # no card network starts with 1
    assert scan_text(luhn_complete("7", 18, rng)) == []


def test_an_id_that_is_also_luhn_valid_is_reported_once_as_an_id() -> None:
    rng = random.Random(3)
    while True:
        number = make_id(
            "440524", f"19{rng.randint(50, 99)}0{rng.randint(1, 9)}15", f"{rng.randint(0, 999):03d}"
        )
        if number[-1] != "X" and luhn_valid(number):
            break
    assert kinds(scan_text(number)) == ["id_card"]
