"""Fake people for the sample county: names and phone numbers that belong to no one.

Names are drawn from common surnames and given-name characters, so they look ordinary but
are random combinations. Phone numbers start with 100, a prefix no mobile network in China
issues, so a synthetic number can never reach a real person.
"""

from __future__ import annotations

import numpy as np

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
# surnames are weighted: the first ones are far more common
_SURNAME_WEIGHTS = 1.0 / np.arange(1, len(SURNAMES) + 1) ** 0.9
_SURNAME_WEIGHTS /= _SURNAME_WEIGHTS.sum()
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉鹏飞志林"
    "春梅海燕雪峰亮成晓波宇浩凯佳婷俊斌慧琴云凤金德福贵荣兴旺发庆祥春生冬秋"
)
HAMLET_SUFFIXES = list("湾垸咀台岭坪冲洲湖港塘桥")
HAMLET_PREFIXES = list("东西南北上下新老大小长高白黄青杨柳桃李何刘陈")


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` fake full names (surname + one or two given-name characters)."""
    sur = rng.choice(len(SURNAMES), size=n, p=_SURNAME_WEIGHTS)
    g1 = rng.integers(0, len(GIVEN), size=n)
    g2 = rng.integers(0, len(GIVEN), size=n)
    two = rng.random(n) < 0.7
    return [
        SURNAMES[s] + GIVEN[a] + (GIVEN[b] if t else "")
        for s, a, b, t in zip(sur, g1, g2, two, strict=True)
    ]


def phone_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` synthetic 11-digit numbers in the unissued 100 prefix."""
    return [f"100{x:08d}" for x in rng.integers(0, 100_000_000, size=n)]


def hamlet_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` natural-village (自然村) names in the style of the Dongting lake plain."""
    sur = rng.choice(len(SURNAMES), size=n, p=_SURNAME_WEIGHTS)
    pre = rng.integers(0, len(HAMLET_PREFIXES), size=n)
    suf = rng.integers(0, len(HAMLET_SUFFIXES), size=n)
    style = rng.random(n)
    out = []
    for s, p, x, st in zip(sur, pre, suf, style, strict=True):
        if st < 0.55:
            out.append(SURNAMES[s] + "家" + HAMLET_SUFFIXES[x])
        else:
            out.append(HAMLET_PREFIXES[p] + HAMLET_SUFFIXES[x])
    return out


CHINESE_NUMERALS = "零一二三四五六七八九十"


def chinese_number(n: int) -> str:
    """1 → 一, 12 → 十二, 23 → 二十三 (up to 99), for 村民小组 names."""
    if n <= 10:
        return CHINESE_NUMERALS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else CHINESE_NUMERALS[tens]
    return head + "十" + (CHINESE_NUMERALS[ones] if ones else "")
