"""Mask contact details, identity numbers, links and named officials in free text before storing.

A cadre describing a problem may paste a phone number, an ID-card number, an e-mail address or
a link without thinking, or name "王局长"; once stored next to an answer it identifies them (or
a colleague). `scrub` replaces each such item with a bracketed Chinese placeholder and reports
which kinds it found, so the user can be told what was masked.

Invisible characters (zero-width spaces and joiners, soft hyphens, word joiners, BOMs, bidi
controls: every Unicode format character, and control characters other than tab and line
breaks) are removed first, so none can split a number and
slip it past the detectors. Matching then runs on a normalised copy of the text (NFKC, so
full-width `１３８`, `＠` and `：` count; every Unicode decimal digit and dash folded to ASCII;
variation selectors and keycaps ignored) while the replacement is applied to the original, so
the rest of what the user wrote stays exactly as written. Every detector runs twice: once with
Chinese and financial numerals (一三八, 壹叁捌, 〇/零, 幺) read as digits and once without, so
"一三八 0013 8000" is caught and "统一13800138000" is too.

Checksums (GB 11643 for ID cards, Luhn for bank cards) keep ordinary long numbers from being
masked; short numbers (years, counts, money, percentages, document numbers) never match. A
surname is masked only right before an official title, and not where the two characters are
the end of an ordinary word ("新任局长", "公安局长"). The result is a fixpoint: scrubbing
scrubbed text changes nothing. Every pattern is precompiled, and separators are matched by
possessive quantifiers, so a long adversarial answer cannot make matching backtrack
exponentially.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

PLACEHOLDERS: dict[str, str] = {
    "phone": "[手机号]",
    "id_card": "[身份证号]",
    "email": "[邮箱]",
    "landline": "[固定电话]",
    "bank_card": "[银行卡号]",
    "im_account": "[社交账号]",
    "license_plate": "[车牌号]",
    "url": "[链接]",
    "person": "[姓名]",
}
KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)
"""Every kind `scrub` can report, in the order `ScrubResult.masked` uses."""

_MAX_PASSES = 5


@dataclass(frozen=True)
class ScrubResult:
    """The masked text and the kinds that were masked (unique, in `KINDS` order)."""

    text: str
    masked: tuple[str, ...]


def scrub(text: str) -> ScrubResult:
    """Drop invisible characters, then mask every identifying item `KINDS` names."""
    text = strip_invisible(text)
    found: set[str] = set()
    for _ in range(_MAX_PASSES):
        masked_text, kinds = _scrub_once(text)
        if not kinds:
            break
        found.update(kinds)
        text = masked_text
    return ScrubResult(text=text, masked=tuple(kind for kind in KINDS if kind in found))


# --- invisible characters -----------------------------------------------------------------

_ZWJ = "\u200d"
_INVISIBLE_EXTRA = frozenset("\u034f\u115f\u1160\u3164\uffa0\u180b\u180c\u180d\u180f")
"""Invisible characters that are not in the format category: the combining grapheme joiner,
Hangul fillers (rendered blank), Mongolian free variation selectors."""


_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _is_invisible(char: str) -> bool:
    if char in "\t\n\r":
        return False
    return char in _INVISIBLE_EXTRA or unicodedata.category(char) in ("Cf", "Cc")


def _is_emoji_part(char: str) -> bool:
    return unicodedata.category(char) in ("So", "Sk") or char == "\ufe0f"


def strip_invisible(text: str) -> str:
    """Remove every invisible format character, keeping only a ZWJ that joins two emoji.

    The ZWJ inside "👩‍💻" is part of a picture, cannot sit between digits or letters, and is
    ignored by matching anyway; every other one could hide an identifier.
    """
    if text.isascii() and not _ASCII_CONTROLS.search(text):
        return text
    kept: list[str] = []
    for index, char in enumerate(text):
        if not _is_invisible(char):
            kept.append(char)
            continue
        if char == _ZWJ and kept and _is_emoji_part(kept[-1]):
            following = text[index + 1 : index + 2]
            if following and _is_emoji_part(following):
                kept.append(char)
    return "".join(kept)


# --- normalisation ------------------------------------------------------------------------

_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u30fc")
_IGNORED = frozenset("\u20e3") | frozenset(chr(c) for c in range(0xFE00, 0xFE10))
"""Keycaps and variation selectors: "1️⃣3️⃣8️⃣" is a number."""
_BLANKS = frozenset("\u2800")
_CHINESE_DIGITS: dict[str, str] = {
    **dict.fromkeys("〇○◯零", "0"),
    **dict.fromkeys("一壹幺", "1"),
    **dict.fromkeys("二贰貳", "2"),
    **dict.fromkeys("三叁參叄", "3"),
    **dict.fromkeys("四肆", "4"),
    **dict.fromkeys("五伍", "5"),
    **dict.fromkeys("六陆陸", "6"),
    **dict.fromkeys("七柒", "7"),
    **dict.fromkeys("八捌", "8"),
    **dict.fromkeys("九玖", "9"),
}


def _fold(char: str) -> str:
    if char in _DASHES:
        return "-"
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return str(digit)
    if char in _BLANKS or (char != "\n" and char.isspace()):
        return " "
    return char


@dataclass(frozen=True)
class _Normalised:
    """Two readings of one text, character for character: Chinese numerals as written, and
    as digits (None if the text has none); `origin` maps each position to the original."""

    plain: str
    numerals: str | None
    origin: list[int]


def _normalise(text: str) -> _Normalised:
    plain: list[str] = []
    numerals: list[str] = []
    origin: list[int] = []
    has_numerals = False
    for index, char in enumerate(text):
        if (char.isascii() and char.isprintable()) or char in "\t\n\r":
            piece = char
        elif char in _IGNORED or _is_invisible(char):
            continue
        else:
            piece = "".join(_fold(c) for c in unicodedata.normalize("NFKC", char))
        for folded in piece:
            plain.append(folded)
            digit = _CHINESE_DIGITS.get(folded)
            if digit is not None:
                has_numerals = True
            numerals.append(digit or folded)
            origin.append(index)
    return _Normalised("".join(plain), "".join(numerals) if has_numerals else None, origin)


# --- detectors ----------------------------------------------------------------------------

_SEP_MARK = r"(?:[-./\\_·•・。|]|\r?\n)"
_SEP = rf"(?:[ \t]{{1,6}}+(?:{_SEP_MARK}[ \t]{{0,6}}+)?|{_SEP_MARK}[ \t]{{0,6}}+)"
"""What may split a number for readability: a few spaces, or one dash, dot, slash, underscore,
middle dot or line break with a few spaces around it. Possessive, so it never backtracks
(atomic groups are much slower in Python 3.11's engine)."""
_NON_DIGITS = re.compile(r"[^0-9Xx]+")


def _spaced_digits(count: int) -> str:
    return rf"[0-9](?:{_SEP}?[0-9]){{{count - 1}}}"


_MOBILE = re.compile(
    rf"(?<![0-9])"
    rf"(?:(?:(?:\+|00)[ \t]?86|\((?:\+|00)?86\)|86){_SEP}?|0)?"
    rf"(?P<number>1{_SEP}?[3-9](?:{_SEP}?[0-9]){{9}})"
    rf"(?![0-9])"
)
_AREA = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE = re.compile(
    rf"(?<![0-9])"
    rf"(?:(?:\+|00)[ \t]?86{_SEP}?\(?0?(?:10|2[0-9]|[3-9][0-9]{{2}})\)?|\(?{_AREA}\)?)"
    rf"{_SEP}?[1-9](?:{_SEP}?[0-9]){{6,7}}(?![0-9])"
    rf"(?:[ \t]*(?:转|分机|ext\.?|x|#|-)[ \t]*[0-9]{{1,6}}(?![0-9]))?",
    re.IGNORECASE,
)
_ID_CARD_18 = re.compile(rf"(?<![0-9])[1-9](?:{_SEP}?[0-9]){{16}}{_SEP}?[0-9Xx](?![0-9])")
_ID_CARD_15 = re.compile(rf"(?<![0-9])[1-9](?:{_SEP}?[0-9]){{14}}(?![0-9])")
_BANK_CARDS = tuple(
    re.compile(rf"(?<![0-9]){_spaced_digits(length)}(?![0-9Xx])") for length in (19, 18, 17, 16)
)

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_OPEN = r"[\[({<【〔]"
_CLOSE = r"[\])}>】〕]"
_AT = (
    rf"(?:\s*+{_OPEN}\s*+(?:at|艾特|@)\s*+{_CLOSE}\s*+"
    r"|[ \t]*+(?:艾特|#|@)[ \t]*+|[ \t]++at[ \t]++)"
)
_DOT = (
    rf"(?:\.|[ \t]*+{_OPEN}\s*+(?:dot|点|\.)\s*+{_CLOSE}[ \t]*+"
    r"|[ \t]*+(?:点|。)[ \t]*+|[ \t]++dot[ \t]++)"
)
_TLDS = (
    r"(?:com|cn|net|org|edu|gov|info|io|me|cc|co|top|xyz|vip|biz|club|site|online|tech|hk|tw"
    r"|mo|uk|us|jp|kr|de|fr|ru|sg|ca|au)"
)
_OBFUSCATED_EMAIL = re.compile(
    rf"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+{_AT}"
    rf"[A-Za-z0-9-]+(?:{_DOT}[A-Za-z0-9-]+)*{_DOT}{_TLDS}(?![A-Za-z])",
    re.IGNORECASE,
)

_URL_CHARS = r"A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%"
_URL_END = r"A-Za-z0-9\-_~/#=&%+"
_URL = re.compile(
    rf"(?<![A-Za-z0-9])(?:(?:https?|ftp)://|www\.)[{_URL_CHARS}]*[{_URL_END}]", re.IGNORECASE
)
_PLATFORM_LINK = re.compile(
    r"(?<![A-Za-z0-9.-])(?:[A-Za-z0-9-]+\.)*"
    r"(?:t\.me|telegram\.me|weibo\.com|weibo\.cn|douyin\.com|iesdouyin\.com|xhslink\.com"
    r"|xiaohongshu\.com|bilibili\.com|b23\.tv|kuaishou\.com|zhihu\.com|toutiao\.com"
    r"|weixin\.qq\.com)"
    rf"/[{_URL_CHARS}]*[{_URL_END}]",
    re.IGNORECASE,
)

_MENTION = re.compile(r"(?<![A-Za-z0-9._%+-])@[A-Za-z][A-Za-z0-9_]{4,}")
_WECHAT_INTERNAL_ID = re.compile(r"(?<![A-Za-z0-9_])wxid_[A-Za-z0-9_-]{4,}", re.IGNORECASE)
_IM_ACCOUNT = re.compile(
    r"(?P<keyword>(?:qq|vx|wx|(?<![A-Za-z])(?:weixin|wechat|telegram|tg|signal|whatsapp"
    r"|dingtalk|lark))(?![A-Za-z])"
    r"|扣扣|企鹅|微信|威信|薇信|维信|微芯|v信|v芯|加[vq](?![A-Za-z])|(?<![A-Za-z])[qv](?=号)"
    r"|钉钉|飞书|电报)"
    r"(?P<suffix>号码|号|账号|帐号|群号|群|[ \t]*+id)?"
    r"(?P<sep>[ \t]*+(?:(?:就是|是|为|is)[ \t]*+)?(?:[:=][ \t]*+)?)"
    rf"(?P<account>[1-9](?:{_SEP}?[0-9]){{4,11}}(?![0-9A-Za-z_])"
    r"|[A-Za-z0-9][A-Za-z0-9_-]{4,}(?![A-Za-z0-9_-]))",
    re.IGNORECASE,
)

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(
    rf"[{_PROVINCES}][ \t]{{0,2}}+[A-Za-z][ \t]{{0,3}}+(?:[.·•・-][ \t]{{0,3}}+)?"
    r"(?:[A-HJ-NP-Za-hj-np-z0-9]{4}[警学挂领港澳试超]|[A-HJ-NP-Za-hj-np-z0-9]{5,6})"
    r"(?![A-Za-z0-9])"
)

# Common surnames that are rarely the last character of an ordinary word right before a title
# (so not 向 "向局长汇报", 于, 全, 司, 计, 管 "分管局长", 查 "检查组长", 南 "河南省长",
# 班 "班主任").
_SINGLE_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔汤易常温康施文牛樊葛邢安齐伍乔庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞左"
    "柳甘祝包宁尚符舒阮柯纪梅童凌毕季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳柴鲍华喻祁蒲滕屈饶艾尤穆"
    "卓吉缪项连麦褚娄窦戚岑宫费卜冷晏卫宗瞿桂佟臧闵苟邬卞姬仇栾隋刁荣巫寇桑郎甄仲虞敖巩佘迟"
)
_COMPOUND_SURNAMES = (
    "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|长孙|宇文|司徒|夏侯|轩辕|令狐|端木|独孤|南宫"
    "|西门|呼延|闻人|澹台|申屠|太史|万俟|钟离|宗政|淳于|赫连|拓跋"
)
_GIVEN_PLACEHOLDER = r"(?:[Xx×*○〇Oo]{1,3}|某某?)"
_TITLES = (
    r"(?:常务)?副?(?:秘书长|总经理|董事长|书记|主任|局长|镇长|乡长|县长|区长|市长|省长|厅长|科长"
    r"|股长|所长|站长|部长|处长|主席|委员|组长|队长|村长|院长|校长|行长|社长|会长|经理|总)|支书"
)
_PERSON = re.compile(
    rf"(?P<name>(?:{_COMPOUND_SURNAMES}|[{_SINGLE_SURNAMES}]){_GIVEN_PLACEHOLDER}?)"
    rf"(?P<title>{_TITLES})"
)
_WORDS_ENDING_IN_A_SURNAME_TEXT = """
    新任 前任 现任 继任 历任 离任 首任 原任 兼任 出任 担任 就任 曾任 留任 上任 到任
    调任 转任 升任 委任 专任 信任 责任 聘任 胜任 放任 重任 连任 接任 卸任 赴任 改任
    拟任 选任 时任 主任 难任 公安 治安 平安 西安 泰安 吉安 六安 延安 淮安 雅安 长安
    瑞安 广安 永安 新安 保安 晚安 早安 天安 静安 福安 来安 怀安 普安 国安 维安 提高
    最高 较高 很高 更高 升高 增高 太高 过高 偏高 拔高 崇高 极高 资金 基金 奖金 现金
    租金 黄金 瑞金 薪金 押金 罚金 金华 中华 精华 繁华 才华 年华 豪华 升华 清华 光华
    黄石 岩石 基石 公文 发文 行文 来文 正文 原文 全文 本文 中文 下文 上文 语文 浙江
    长江 镇江 九江 内江 湛江 阳江 吴江 丽江 珠江 闽江 松江 晋江 每周 本周 上周 下周
    这周 那周 当周 地方 双方 对方 各方 上方 多方 官方 甲方 乙方 南方 北方 西方 校方
    警方 院方 军方 资方 我方 经常 日常 正常 非常 异常 平常 通常 照常 反常 往常 寻常
    完成 达成 形成 促成 造成 构成 组成 赞成 建成 落成 养成 过程 工程 议程 流程 规程
    章程 日程 进程 课程 全程 行程 专程 路程 远程 里程 公路 铁路 道路 马路 思路 线路
    出路 一路 走路 带路 套路 网路 南宁 西宁 海宁 济宁 遂宁 江宁 普宁 安宁 辽宁 咸宁
    永宁 集宁 健康 安康 小康 高温 气温 体温 升温 降温 保温 打包 红包 承包 面包 分包
    外包 转包 发包 文章 规章 盖章 印章 公章 签章 图章 桥梁 也许 或许 允许 准许 少许
    些许 期许 特许 默许 不许 祝贺 庆贺 容易 贸易 交易 简易 轻易 不易 整齐 一齐 看齐
    备齐 配齐 凑齐 补齐 立马 上马 出马 下马 人马 紧张 主张 扩张 开张 夸张 如何 任何
    为何 几何 感谢 多谢 致谢 答谢 代谢 谢谢 其余 多余 剩余 业余 结余 盈余 江苏 复苏
    分钟 时钟 闹钟 规范 示范 防范 模范 典范 师范 支付 交付 应付 对付 托付 给付 师傅
    明白 空白 表白 坦白 黑白 清白 手段 阶段 片段 地段 路段 时段 分段 历史 照顾 回顾
    兼顾 不顾 从严 爱戴 拥戴 措施 实施 设施 村庄 山庄 农庄 重申 聚焦 庆祝 预祝 违纪
    党纪 法纪 风纪 世纪 年纪 军纪 完毕 疫苗 树苗 旅游 上游 下游 中游 导游 艰辛 委屈
    精简 从简 事项 款项 专项 单项 强项 弱项 各项 选项 立项 多项 逐项 分项 大连 接连
    牵连 相连 一连 亲戚 经费 收费 浪费 免费 缴费 会费 花费 学费 话费 自费 正宗 祖宗
    卷宗 大宗 推迟 延迟 保卫 捍卫 防卫 门卫 警卫 自卫 护卫 光荣 繁荣 虚荣 有钱 没钱
    要钱 给钱 花钱 挣钱 赚钱 省钱 交钱 大陆 登陆 着陆 农田 油田 水田 稻田 园丁 人丁
    补丁 生姜 儿童 孩童 行李 桃李 国王 大王 帝王 古董 主管 分管 茶叶 树叶 一万 十万
    百万 千万 上万 数万 亿万 成万 过万 破万 逾万 近万 超万 两万 几万 家庄 吉林 莆田
    新余 枣庄 桂林 玉林 榆林 中卫 木齐 克苏 和田 伊宁 龙江
"""
_WORDS_ENDING_IN_A_SURNAME = frozenset(_WORDS_ENDING_IN_A_SURNAME_TEXT.split())
_NUMBER_WORDS = frozenset("0123456789一二三四五六七八九十百千万两几数半俩仨")
_PLACE_TITLES = ("镇长", "乡长", "县长", "区长", "市长", "省长", "村长", "会长")
_NOT_AFTER: dict[str, frozenset[str]] = {
    "书记": frozenset("录载员"),
    "委员": frozenset("会长"),
    "主席": frozenset("台团"),
    **dict.fromkeys(_PLACE_TITLES, frozenset("期远久达效篇度短城江沙春治廊")),
}
_NOT_AFTER_ANY_ZHANG = frozenset("远久达效篇")
"""After a title ending in 长: "长远", "长久", "长达" ("周会长达三小时") are not the title."""
_AFTER_BARE_ZONG = frozenset(
    "说讲让叫要问和跟与的在也都又还就对给把被们来去是已刚亲带批签定找请答发同不没"
)
""""王总" is a person only when a verb or particle follows: "一张总表", "张总结" are not."""


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def _is_person(match: re.Match[str]) -> bool:
    """A surname before a title, unless the pair is the end of a word or of a number."""
    text = match.string
    start = match.start()
    before = text[start - 1] if start else ""
    surname = match.group("name")[:1]
    if before in _NUMBER_WORDS or before + surname in _WORDS_ENDING_IN_A_SURNAME:
        return False
    title = match.group("title").removeprefix("常务").removeprefix("副")
    after = text[match.end() : match.end() + 1]
    if title == "总":
        return not _is_han(after) or after in _AFTER_BARE_ZONG
    if title.endswith("长") and after in _NOT_AFTER_ANY_ZHANG:
        return False
    return after not in _NOT_AFTER.get(title, frozenset())


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_card_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of an ID-card number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by bank cards."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(match_text: str) -> str:
    return "".join(c for c in match_text if c.isdigit() or c in "Xx").upper()


def _is_id_card_18(match: re.Match[str]) -> bool:
    digits = _digits(match.group())
    return id_card_check_digit(digits[:17]) == digits[17]


def _is_id_card_15(match: re.Match[str]) -> bool:
    """Old 15-digit IDs have no check digit, so require a real birth date (YYMMDD)."""
    digits = _digits(match.group())
    try:
        date(1900 + int(digits[6:8]), int(digits[8:10]), int(digits[10:12]))
    except ValueError:
        return False
    return True


def _is_bank_card(match: re.Match[str]) -> bool:
    """Luhn-valid, grouped like a card (groups of ≥ 4 but the last), and not a list of years."""
    groups = _NON_DIGITS.split(match.group())
    if any(len(group) < 4 for group in groups[:-1]):
        return False
    if len(groups) > 1 and all(len(g) == 4 and 1900 <= int(g) <= 2099 for g in groups):
        return False
    return luhn_valid("".join(groups))


def _is_mobile(match: re.Match[str]) -> bool:
    """Split digits are a phone only in groups of two or more: "1 3 5 7 9 11 13" is a list."""
    return all(len(group) >= 2 for group in _NON_DIGITS.split(match.group("number")))


def _is_im_account(match: re.Match[str]) -> bool:
    """A bare English word after "WeChat" is prose; an id has a digit, `_`, `-` or a marker,
    or follows a Chinese keyword ("加我微信zhangsan")."""
    account = match.group("account")
    if any(c.isdigit() or c in "_-" for c in account):
        return True
    if any(not c.isascii() for c in match.group("keyword")):
        return True
    return bool(match.group("suffix")) or bool(match.group("sep").strip())


def _plate_has_digit(match: re.Match[str]) -> bool:
    return any(c.isdigit() for c in match.group())


def _always(match: re.Match[str]) -> bool:
    return True


@dataclass(frozen=True)
class _Detector:
    kind: str
    pattern: re.Pattern[str]
    accept: Callable[[re.Match[str]], bool] = _always
    group: str | int = 0


# Earlier detectors win when two candidates of equal length cover the same characters.
_DETECTORS: tuple[_Detector, ...] = (
    _Detector("url", _URL),
    _Detector("url", _PLATFORM_LINK),
    _Detector("email", _EMAIL),
    _Detector("email", _OBFUSCATED_EMAIL),
    _Detector("id_card", _ID_CARD_18, _is_id_card_18),
    *(_Detector("bank_card", pattern, _is_bank_card) for pattern in _BANK_CARDS),
    _Detector("phone", _MOBILE, _is_mobile),
    _Detector("landline", _LANDLINE),
    _Detector("id_card", _ID_CARD_15, _is_id_card_15),
    _Detector("im_account", _WECHAT_INTERNAL_ID),
    _Detector("im_account", _MENTION),
    _Detector("im_account", _IM_ACCOUNT, _is_im_account, "account"),
    _Detector("license_plate", _PLATE, _plate_has_digit),
    _Detector("person", _PERSON, _is_person, "name"),
)


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    priority: int
    kind: str


def _candidates(reading: str) -> Iterator[_Candidate]:
    """Every accepted match of every detector, overlapping ones included.

    The search restarts one character after each match's start (not at its end) so that a
    rejected candidate (say, a wrong checksum) cannot hide a valid one that overlaps it.
    """
    for priority, detector in enumerate(_DETECTORS):
        position = 0
        while position <= len(reading):
            match = detector.pattern.search(reading, position)
            if match is None:
                break
            if detector.accept(match):
                start, end = match.span(detector.group)
                yield _Candidate(start, end, priority, detector.kind)
            position = match.start() + 1


def _choose(candidates: Iterable[_Candidate]) -> list[_Candidate]:
    """The longest candidates first, skipping any that overlaps one already chosen."""
    ordered = sorted(set(candidates), key=lambda c: (c.start - c.end, c.priority, c.start))
    starts: list[int] = []
    chosen: list[_Candidate] = []  # kept sorted by start, never overlapping
    for candidate in ordered:
        index = bisect.bisect_right(starts, candidate.start)
        if index > 0 and chosen[index - 1].end > candidate.start:
            continue
        if index < len(chosen) and chosen[index].start < candidate.end:
            continue
        starts.insert(index, candidate.start)
        chosen.insert(index, candidate)
    return chosen


def _scrub_once(text: str) -> tuple[str, set[str]]:
    normalised = _normalise(text)
    found = _candidates(normalised.plain)
    if normalised.numerals is not None:
        found = itertools.chain(found, _candidates(normalised.numerals))
    chosen = _choose(found)
    if not chosen:
        return text, set()
    origin = normalised.origin
    pieces: list[str] = []
    cursor = 0
    for candidate in chosen:
        # Two matches can share an original character only if NFKC expanded it; never unmask.
        start = max(origin[candidate.start], cursor)
        end = max(origin[candidate.end - 1] + 1, start)
        while end < len(text) and text[end] in _IGNORED:
            end += 1  # a keycap or variation selector left behind would dangle
        pieces.append(text[cursor:start])
        pieces.append(PLACEHOLDERS[candidate.kind])
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces), {candidate.kind for candidate in chosen}
