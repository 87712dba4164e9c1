"""Reference data the warehouse needs but PostgreSQL lacks, written as dbt seeds from well-kept libraries.

``char_pinyin``: the toneless pinyin readings (every reading of a heteronym, such as 长 chang / zhang) of the
6,763 characters of GB 2312 (the national standard set every department's system can type), from pypinyin.
Address matching uses it to repair a village name typed with a homophone (汪庄 for 王庄, 辰集 for 陈集), the
commonest typo of a pinyin input method. Regenerate with ``python -m govhub.reference_data``;
tests/dbt_project/test_address_udfs.py checks the file is what pypinyin gives.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
CHAR_PINYIN = SEEDS_DIR / "char_pinyin.csv"


def gb2312_hanzi() -> list[str]:
    """The 6,763 characters of GB 2312 levels 1 and 2 (rows 0xB0-0xF7), in code order."""
    chars = []
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # the five unassigned cells at the end of row 0xD7
    return chars


def char_pinyin_rows() -> list[tuple[str, str]]:
    """(character, toneless reading), one row per reading, sorted."""
    from pypinyin import Style, pinyin

    rows = set()
    for ch in gb2312_hanzi():
        for reading in pinyin(ch, style=Style.NORMAL, heteronym=True)[0]:
            if reading and reading != ch:  # pypinyin returns the character itself when it knows no reading
                rows.add((ch, reading.lower()))
    return sorted(rows)


def char_pinyin_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["ch", "reading"])
    writer.writerows(char_pinyin_rows())
    return out.getvalue()


def main() -> None:
    CHAR_PINYIN.write_text(char_pinyin_csv(), encoding="utf-8")
    print(f"wrote {CHAR_PINYIN}")


if __name__ == "__main__":
    main()
