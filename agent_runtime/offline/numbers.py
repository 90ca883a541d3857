"""Numbers as the offline model's users write them: digits, Chinese numerals, English words.

Shared by the date and time rules (`dates`) and the repetition rules (`recurrence`), which must
not depend on each other.
"""

from __future__ import annotations

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}

# A regex fragment: 0..99 in Chinese numerals ("三", "十二", "三十一").
CN_NUM = "[零〇一二两三四五六七八九十]{1,3}"

EN_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
# A regex fragment: a small count in digits or English words.
EN_NUM = r"\d{1,3}|" + "|".join(EN_NUMBERS)


def cn_number(text: str) -> int | None:
    """0..99 written in digits or Chinese numerals ("12", "十二", "两", "三十"); None otherwise."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        high = _CN_DIGITS.get(tens, -100) if tens else 1
        low = _CN_DIGITS.get(ones, -100) if ones else 0
        value = high * 10 + low
        return value if value >= 0 else None
    return _CN_DIGITS.get(text) if len(text) == 1 else None


def en_number(text: str) -> int | None:
    """A count in digits or English words ("10", "ten"); None otherwise."""
    text = text.lower()
    return int(text) if text.isdigit() else EN_NUMBERS.get(text)
