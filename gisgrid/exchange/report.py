"""The import report: every problem by row (or feature) and column as the file has them,
in Chinese first and English after.

A problem found by validation names the feature's position in the frame and the layer's
column (:class:`~gisgrid.errors.Problem`); the user knows the file: row 5 of the sheet (the
header in row 1, the first data row is row 2), the column headed ``户主姓名``.
:func:`report_line` says it that way, with the message translated by :data:`PHRASES` (the
English message follows in brackets, whole).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from gisgrid.errors import Problem

#: English message pattern → its Chinese; ``{0}``… are the pattern's groups
PHRASES: tuple[tuple[str, str], ...] = (
    (r"required column is missing", "缺少必填列"),
    (r"required value is missing", "缺少必填值"),
    (r"'(.*)' is not well-formed \((.*)\)", "「{0}」格式不对（{1}）"),
    (r"'(.*)' is not one of: (.*)", "「{0}」不是允许的值（可填：{1}）"),
    (r"'(.*)' is not a number", "「{0}」不是数字"),
    (r"(.*) is below the minimum (.*)", "{0} 小于最小值 {1}"),
    (r"(.*) is above the maximum (.*)", "{0} 大于最大值 {1}"),
    (r"(.*) is out of range for a 64-bit integer", "{0} 超出整数范围"),
    (r"'(.*)' is not a whole number", "「{0}」不是整数"),
    (r"(.*) is not a finite number", "{0} 不是有限数"),
    (r"'(.*)' is not true/false", "「{0}」不是 是/否"),
    (r"'(.*)' is not a date.*", "「{0}」不是日期（请用 YYYY-MM-DD）"),
    (r"duplicate key.*", "编号重复：文件中另有相同编号"),
    (r"already in the store", "库中已有此编号（追加模式不能重复）"),
    (r"lies (.*) km outside the county.*", "位于县界外 {0} 公里"),
    (r"coordinates \((.*)\) look like \(lat, lon\).*", "坐标 ({0}) 经纬度对调了"),
    (r"coordinates \((.*)\) are outside China.*", "坐标 ({0}) 不在中国范围内：坐标系不对？"),
    (r"geometry is missing", "缺少坐标"),
    (r"geometry is empty", "几何为空"),
    (r"a coordinate is .*", "坐标不是有效数字"),
    (r"invalid geometry: (.*)", "几何无效：{0}"),
    (r"wrong geometry type (.*), need (.*)", "几何类型 {0} 不对，应为 {1}"),
    (r"the input has no CRS.*", "文件没有坐标系（缺少 .prj？）：请用 --crs 指明"),
    (r"the input has no geometry.*", "文件没有几何（坐标）"),
    (r"'(.*)' is not a backbone household", "「{0}」不是党员骨干户"),
    (r"more elderly members than members", "60岁以上人数多于家庭人口"),
    (r"a backbone household .* must be a party-member household", "党员骨干户必须是党员户"),
    (r"a backbone household is not linked.*", "党员骨干户不再联系其他骨干户"),
    (r"a household cannot be linked to itself", "农户不能联系自己"),
    (r"no (\w+) row with this id in the store", "库中没有此编号（{0}）"),
    (r".*control character.*", "含有控制字符"),
    (r".*characters, at most.*|.*too long.*", "文字过长"),
    (
        r"(overlap|gap|outside_parent|missing_parent|invalid_geometries)\w*: .*",
        "网格边界检查未通过（{0}）",
    ),
)


def in_chinese(message: str) -> str:
    """The Chinese of an English problem message (``（见英文）`` when there is none)."""
    for pattern, zh in PHRASES:
        m = re.fullmatch(pattern, message, flags=re.DOTALL)
        if m is not None:
            return zh.format(*m.groups())
    if re.match(r"[\u4e00-\u9fff「]", message):
        return ""  # says it in Chinese already (and in English after)
    return "（见英文）"


def report_line(
    problem: Problem,
    *,
    rows: Sequence[int],
    tabular: bool,
    header_of: Callable[[str], str],
) -> str:
    """One problem as the user reads it: where (row, column), Chinese, then English.

    Parameters
    ----------
    problem
        The problem (position in the frame, layer column).
    rows
        Each frame position's row (table) or feature number (vector file).
    tabular
        A table (rows) or a vector file (features).
    header_of
        A layer column → its header as written in the file.
    """
    where_zh, where_en = [], []
    if problem.index is not None and problem.index < len(rows):
        number = rows[problem.index]
        where_zh.append(f"第{number}行" if tabular else f"第{number}个要素")
        where_en.append(f"row {number}")
    if problem.field:
        header = header_of(problem.field)
        where_zh.append(f"「{header}」列" if tabular else f"「{header}」")
        where_en.append(f"column {header}")
    if problem.feature:
        where_zh.append(f"（{problem.feature.strip(chr(39))}）")
    zh = in_chinese(problem.message)
    head = "".join(where_zh)
    if tabular:
        en_where = ", ".join(where_en)
        key = f" ({problem.feature})" if problem.feature else ""
        english = f"{en_where}{key}: {problem.message}" if en_where else problem.message
    else:  # a vector file's features: as validation says them (feature #n, field)
        english = str(problem)
    if not zh:  # the message is Chinese (and English) already
        return f"{head}：{problem.message}" if head else problem.message
    return f"{head}：{zh} ({english})" if head else f"{zh} ({english})"
