"""The scrubber against a corpus of real-looking answers: what must be masked, what must stay.

ID-card numbers below are the examples from GB 11643-1999; bank-card numbers are the card
networks' published test numbers (Luhn-valid) or were checked by hand.
"""

from __future__ import annotations

import pytest

from bot.anonymity.scrubber import KINDS, PLACEHOLDERS, scrub

MASKED: list[tuple[str, str, tuple[str, ...]]] = [
    # mobile numbers, in the ways people write them
    ("我的手机13800138000", "我的手机[手机号]", ("phone",)),
    ("电话：138 0013 8000，晚上打", "电话：[手机号]，晚上打", ("phone",)),
    ("138-0013-8000", "[手机号]", ("phone",)),
    ("+86 138 0013 8000", "[手机号]", ("phone",)),
    ("+86-13800138000 找我", "[手机号] 找我", ("phone",)),
    ("0086 13912345678", "[手机号]", ("phone",)),
    ("(+86)13912345678", "[手机号]", ("phone",)),
    ("8613912345678", "[手机号]", ("phone",)),
    ("全角１３８００１３８０００也算", "全角[手机号]也算", ("phone",)),
    ("手机号 １３８－００１３－８０００。", "手机号 [手机号]。", ("phone",)),
    ("19912345678是新号段", "[手机号]是新号段", ("phone",)),
    ("号码15012345678和13698765432", "号码[手机号]和[手机号]", ("phone",)),
    ("call me at 138 0013 8000 please", "call me at [手机号] please", ("phone",)),
    # ID cards with a valid GB 11643 check digit
    ("身份证11010519491231002X", "身份证[身份证号]", ("id_card",)),
    ("身份证号：440524188001010014。", "身份证号：[身份证号]。", ("id_card",)),
    ("小写 11010519491231002x", "小写 [身份证号]", ("id_card",)),
    ("分组写法 110105 19491231 002X", "分组写法 [身份证号]", ("id_card",)),
    ("全角１１０１０５１９４９１２３１００２Ｘ号", "全角[身份证号]号", ("id_card",)),
    ("老身份证 110105491231002", "老身份证 [身份证号]", ("id_card",)),
    # e-mail
    ("请发到 zhang.san@example.com 谢谢", "请发到 [邮箱] 谢谢", ("email",)),
    ("QQ邮箱12345678@qq.com", "QQ邮箱[邮箱]", ("email",)),
    ("全角邮箱ｔｅｓｔ＠ｅｘａｍｐｌｅ．ｃｏｍ！", "全角邮箱[邮箱]！", ("email",)),
    ("li_ming+survey@mail.gov.cn。", "[邮箱]。", ("email",)),
    # landlines, with area code, optional extension
    ("办公室电话010-62345678", "办公室电话[固定电话]", ("landline",)),
    ("(0755) 8888 6666", "[固定电话]", ("landline",)),
    ("0571-87654321转8021找我", "[固定电话]找我", ("landline",)),
    ("座机 021 5012 3456", "座机 [固定电话]", ("landline",)),
    ("（０２０）８７６５４３２１", "[固定电话]", ("landline",)),
    # bank cards (Luhn-valid)
    ("卡号6222021234567890128", "卡号[银行卡号]", ("bank_card",)),
    ("4111 1111 1111 1111", "[银行卡号]", ("bank_card",)),
    ("5555-5555-5555-4444 是工资卡", "[银行卡号] 是工资卡", ("bank_card",)),
    # chat accounts
    ("微信：zhangsan_1990", "微信：[社交账号]", ("im_account",)),
    ("加我QQ 123456789", "加我QQ [社交账号]", ("im_account",)),
    ("wechat id: wang-li", "wechat id: [社交账号]", ("im_account",)),
    ("my WeChat is liming", "my WeChat is [社交账号]", ("im_account",)),
    ("联系 @li_ming_88 就行", "联系 [社交账号] 就行", ("im_account",)),
    ("wxid_k2j3h4g5f6", "[社交账号]", ("im_account",)),
    # licence plates
    ("车牌京A12345的车", "车牌[车牌号]的车", ("license_plate",)),
    # several kinds at once: reported once each, in KINDS order
    (
        "邮箱a@b.cn，电话13800138000，身份证11010519491231002X，再打13900139000",
        "邮箱[邮箱]，电话[手机号]，身份证[身份证号]，再打[手机号]",
        ("phone", "id_card", "email"),
    ),
]

UNCHANGED: list[str] = [
    "2024年开会15次，填表占用了30%的时间",
    "邮编100000，门牌号28号",
    "会议从2023年持续到2024年，共1200人次",
    "时间 2024-11-29 09:30，第3季度",
    "日期 2024-01-15 到 2024-02-20",
    "2023 2024 2025 2026 年度报告",  # Luhn-valid, but a list of years
    "1990 2000 2010 2020",
    "编号12345678901",  # 11 digits, but no mobile starts with 12
    "第1 3 5 7 9 11 13 15 17 19页",  # a list, not a spaced-out phone number
    "数字 1234567890123456",  # 16 digits, Luhn-invalid
    "打了13800次电话",
    "IP 192.168.1.1 和版本 3.11.2",
    # ID-card numbers with a wrong check digit (and not Luhn-valid) stay
    "错误校验位 110105194912310021",
    "440524188001010015",
    "44052418800101001X",
    "we use WeChat groups every day",
    "微信群里每天打卡，钉钉也要打卡",
    "user@localhost 不是邮箱",
    "金额 3,800,138,000 元",
    "全角数字１２３和ＡＢＣ保持原样",
]


@pytest.mark.parametrize(("text", "expected", "kinds"), MASKED)
def test_masks(text: str, expected: str, kinds: tuple[str, ...]) -> None:
    result = scrub(text)
    assert result.text == expected
    assert result.masked == kinds


@pytest.mark.parametrize("text", UNCHANGED)
def test_leaves_ordinary_text_alone(text: str) -> None:
    result = scrub(text)
    assert result.text == text
    assert result.masked == ()


def test_corpus_is_large_and_covers_every_kind() -> None:
    assert len(MASKED) + len(UNCHANGED) >= 40
    assert {kind for _, _, kinds in MASKED for kind in kinds} == set(KINDS)


def test_every_kind_has_a_bracketed_chinese_placeholder() -> None:
    for kind in KINDS:
        placeholder = PLACEHOLDERS[kind]
        assert placeholder.startswith("[") and placeholder.endswith("]")
        assert not any(c.isdigit() for c in placeholder)


def test_text_around_masks_is_kept_exactly() -> None:
    text = "　全角空格、ＡＢＣ与①②③保留；电话１３８ ００１３ ８０００！"
    assert scrub(text).text == "　全角空格、ＡＢＣ与①②③保留；电话[手机号]！"
