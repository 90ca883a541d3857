"""Which language the user writes in, and answering in it.

The offline model speaks English and Chinese; every answer is written in both and `say` picks one.
"""

from __future__ import annotations

import re
from typing import Literal

Lang = Literal["en", "zh"]

CJK_CLASS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{CJK_CLASS}]")


def detect_language(text: str) -> Lang:
    """Chinese as soon as the text holds a CJK ideograph: mixed text ("和Ann吃午饭") is Chinese."""
    return "zh" if _CJK.search(text) else "en"


def say(lang: Lang, english: str, chinese: str) -> str:
    return chinese if lang == "zh" else english
