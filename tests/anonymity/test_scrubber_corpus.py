"""The scrubber against a corpus of real-looking answers: what must be masked, what must stay.

Each masked case gives the input, the exact stored text and the kinds the cadre is told about;
each kept case must come back unchanged with nothing reported. ID-card numbers are the
examples from GB 11643-1999; bank-card numbers are the card networks' published test numbers
(Luhn-valid) or were checked by hand.
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
    ("0086-138-0013-8000", "[手机号]", ("phone",)),
    ("(+86)13912345678", "[手机号]", ("phone",)),
    ("8613912345678", "[手机号]", ("phone",)),
    ("全角１３８００１３８０００也算", "全角[手机号]也算", ("phone",)),
    ("手机号 １３８－００１３－８０００。", "手机号 [手机号]。", ("phone",)),
    ("我的手机 ＋８６ １３８ ００１３ ８０００", "我的手机 [手机号]", ("phone",)),
    ("19912345678是新号段", "[手机号]是新号段", ("phone",)),
    ("号码15012345678和13698765432", "号码[手机号]和[手机号]", ("phone",)),
    ("call me at 138 0013 8000 please", "call me at [手机号] please", ("phone",)),
    # ... with any separator between the groups
    ("138  0013   8000", "[手机号]", ("phone",)),
    ("138\n0013\n8000", "[手机号]", ("phone",)),
    ("138.0013.8000", "[手机号]", ("phone",)),
    ("138/0013/8000", "[手机号]", ("phone",)),
    ("138_0013_8000", "[手机号]", ("phone",)),
    ("138—0013—8000", "[手机号]", ("phone",)),
    ("138·0013·8000", "[手机号]", ("phone",)),
    ("138。0013。8000", "[手机号]", ("phone",)),
    ("１３８．００１３．８０００", "[手机号]", ("phone",)),
    ("138 / 0013 / 8000", "[手机号]", ("phone",)),
    # ... in Chinese or financial numerals, or mixed with Arabic digits
    ("手机一三八零零一三八零零零", "手机[手机号]", ("phone",)),
    ("电话：壹叁捌 零零壹叁 捌零零零", "电话：[手机号]", ("phone",)),
    ("幺三八 0013 8000", "[手机号]", ("phone",)),
    ("1三8〇〇13八〇〇〇", "[手机号]", ("phone",)),
    ("一三九-一二三四-五六七八", "[手机号]", ("phone",)),
    ("联系人一13800138000", "联系人一[手机号]", ("phone",)),
    ("统一13800138000", "统一[手机号]", ("phone",)),
    # ... split by invisible characters (removed first, so the cadre is told)
    ("138\u200b0013\u200b8000", "[手机号]", ("phone",)),
    ("1\u200c3\u200d8\u20600013\u00ad8000", "[手机号]", ("phone",)),
    ("\ufeff13800138000", "[手机号]", ("phone",)),
    ("电话\u202e13800138000\u202c", "电话[手机号]", ("phone",)),
    ("1\u200e3\u200f8 0013 8000", "[手机号]", ("phone",)),
    ("\u2066138 0013 8000\u2069找我", "[手机号]找我", ("phone",)),
    ("1️⃣3️⃣8️⃣0️⃣0️⃣1️⃣3️⃣8️⃣0️⃣0️⃣0️⃣", "[手机号]", ("phone",)),
    # ID cards with a valid GB 11643 check digit
    ("身份证11010519491231002X", "身份证[身份证号]", ("id_card",)),
    ("身份证号：440524188001010014。", "身份证号：[身份证号]。", ("id_card",)),
    ("小写 11010519491231002x", "小写 [身份证号]", ("id_card",)),
    ("分组写法 110105 19491231 002X", "分组写法 [身份证号]", ("id_card",)),
    ("全角１１０１０５１９４９１２３１００２Ｘ号", "全角[身份证号]号", ("id_card",)),
    ("老身份证 110105491231002", "老身份证 [身份证号]", ("id_card",)),
    ("身份证 110105.19491231.002X", "身份证 [身份证号]", ("id_card",)),
    ("身份证 110105-19491231-002x", "身份证 [身份证号]", ("id_card",)),
    ("身份证 110105/19491231/002X", "身份证 [身份证号]", ("id_card",)),
    ("身份证 1101 0519 4912 3100 2X", "身份证 [身份证号]", ("id_card",)),
    ("身份证 110105 1949 1231 002 X", "身份证 [身份证号]", ("id_card",)),
    ("身份证：一一〇一〇五一九四九一二三一〇〇二X", "身份证：[身份证号]", ("id_card",)),
    ("身份证11010519491231\u200b002X", "身份证[身份证号]", ("id_card",)),
    ("证号 440524\n18800101\n0014", "证号 [身份证号]", ("id_card",)),
    # e-mail, plain and obfuscated
    ("请发到 zhang.san@example.com 谢谢", "请发到 [邮箱] 谢谢", ("email",)),
    ("QQ邮箱12345678@qq.com", "QQ邮箱[邮箱]", ("email",)),
    ("全角邮箱ｔｅｓｔ＠ｅｘａｍｐｌｅ．ｃｏｍ！", "全角邮箱[邮箱]！", ("email",)),
    ("li_ming+survey@mail.gov.cn。", "[邮箱]。", ("email",)),
    ("zhangsan[at]163.com", "[邮箱]", ("email",)),
    ("zhangsan(at)163.com", "[邮箱]", ("email",)),
    ("zhangsan{at}163.com", "[邮箱]", ("email",)),
    ("zhangsan【at】163.com", "[邮箱]", ("email",)),
    ("发邮件zhangsan艾特163.com", "发邮件[邮箱]", ("email",)),
    ("zhangsan＠163.com", "[邮箱]", ("email",)),
    ("mail: zhangsan at 163 dot com", "mail: [邮箱]", ("email",)),
    ("zhangsan@163点com", "[邮箱]", ("email",)),
    ("zhangsan@163。com", "[邮箱]", ("email",)),
    ("zhangsan#163.com（#换成@）", "[邮箱]（#换成@）", ("email",)),
    ("zhangsan @ 163.com", "[邮箱]", ("email",)),
    ("zhangsan[at]163[dot]com", "[邮箱]", ("email",)),
    ("zhang(AT)gov(DOT)cn", "[邮箱]", ("email",)),
    ("一二三四五六七八@qq.com", "[邮箱]", ("email",)),
    ("zhang\u200bsan@163.com", "[邮箱]", ("email",)),
    # landlines, with area code, optional extension, any separator
    ("办公室电话010-62345678", "办公室电话[固定电话]", ("landline",)),
    ("(0755) 8888 6666", "[固定电话]", ("landline",)),
    ("0571-87654321转8021找我", "[固定电话]找我", ("landline",)),
    ("座机 021 5012 3456", "座机 [固定电话]", ("landline",)),
    ("（０２０）８７６５４３２１", "[固定电话]", ("landline",)),
    ("(010) 6234 5678", "[固定电话]", ("landline",)),
    ("(0755)8888-6666", "[固定电话]", ("landline",)),
    ("0755.8888.6666", "[固定电话]", ("landline",)),
    ("０７５５／８８８８／６６６６", "[固定电话]", ("landline",)),
    ("+86 10 6234 5678", "[固定电话]", ("landline",)),
    ("+86 755 8888 6666", "[固定电话]", ("landline",)),
    ("〇一〇 六二三四 五六七八", "[固定电话]", ("landline",)),
    # bank cards (Luhn-valid)
    ("卡号6222021234567890128", "卡号[银行卡号]", ("bank_card",)),
    ("4111 1111 1111 1111", "[银行卡号]", ("bank_card",)),
    ("5555-5555-5555-4444 是工资卡", "[银行卡号] 是工资卡", ("bank_card",)),
    ("4111.1111.1111.1111", "[银行卡号]", ("bank_card",)),
    ("4111\n1111\n1111\n1111", "[银行卡号]", ("bank_card",)),
    # chat accounts
    ("微信：zhangsan_1990", "微信：[社交账号]", ("im_account",)),
    ("加我QQ 123456789", "加我QQ [社交账号]", ("im_account",)),
    ("wechat id: wang-li", "wechat id: [社交账号]", ("im_account",)),
    ("my WeChat is liming", "my WeChat is [社交账号]", ("im_account",)),
    ("联系 @li_ming_88 就行", "联系 [社交账号] 就行", ("im_account",)),
    ("wxid_k2j3h4g5f6", "[社交账号]", ("im_account",)),
    ("加我微信zhangsan", "加我微信[社交账号]", ("im_account",)),
    ("微信号：wang_li88", "微信号：[社交账号]", ("im_account",)),
    ("wx：abc12345", "wx：[社交账号]", ("im_account",)),
    ("wx abc12345", "wx [社交账号]", ("im_account",)),
    ("vx：abc12345", "vx：[社交账号]", ("im_account",)),
    ("VX号 abc12345", "VX号 [社交账号]", ("im_account",)),
    ("V信：abc12345", "V信：[社交账号]", ("im_account",)),
    ("加V：abc12345", "加V：[社交账号]", ("im_account",)),
    ("加v abc12345", "加v [社交账号]", ("im_account",)),
    ("薇信 abc12345", "薇信 [社交账号]", ("im_account",)),
    ("威信：abc12345", "威信：[社交账号]", ("im_account",)),
    ("QQ：123456789", "QQ：[社交账号]", ("im_account",)),
    ("QQ:123456789", "QQ:[社交账号]", ("im_account",)),
    ("qq号 123456789", "qq号 [社交账号]", ("im_account",)),
    ("Q号：123456789", "Q号：[社交账号]", ("im_account",)),
    ("扣扣 123456789", "扣扣 [社交账号]", ("im_account",)),
    ("扣扣号：123456789", "扣扣号：[社交账号]", ("im_account",)),
    ("企鹅号 123456789", "企鹅号 [社交账号]", ("im_account",)),
    ("加Q 123456789", "加Q [社交账号]", ("im_account",)),
    ("QQ：一二三四五六七八九", "QQ：[社交账号]", ("im_account",)),
    ("QQ 123 456 789", "QQ [社交账号]", ("im_account",)),
    ("QQ群：987654321", "QQ群：[社交账号]", ("im_account",)),
    ("QQ：123\u200b456\u200b789", "QQ：[社交账号]", ("im_account",)),
    # links
    ("https://example.com/u/12345", "[链接]", ("url",)),
    ("见 http://www.gov.cn/a?b=1。", "见 [链接]。", ("url",)),
    ("www.example.com", "[链接]", ("url",)),
    ("看这个 https://mp.weixin.qq.com/s/AbCdEf 。", "看这个 [链接] 。", ("url",)),
    ("t.me/zhangsan_88", "[链接]", ("url",)),
    ("群在 https://t.me/joinchat/AAAA", "群在 [链接]", ("url",)),
    ("weibo.com/u/123456", "[链接]", ("url",)),
    ("m.weibo.cn/status/4567", "[链接]", ("url",)),
    ("v.douyin.com/iRNBho6/", "[链接]", ("url",)),
    ("xhslink.com/a/AbCdEf", "[链接]", ("url",)),
    ("space.bilibili.com/123456", "[链接]", ("url",)),
    ("b23.tv/AbCdEf", "[链接]", ("url",)),
    ("www.xiaohongshu.com/user/profile/5a", "[链接]", ("url",)),
    ("v.kuaishou.com/AbC12", "[链接]", ("url",)),
    ("zhihu.com/people/li-ming", "[链接]", ("url",)),
    ("m.toutiao.com/is/AbC12/", "[链接]", ("url",)),
    ("（详见https://example.org/x）", "（详见[链接]）", ("url",)),
    # licence plates, any case, with spaces or dots, new-energy and special plates
    ("车牌京A12345的车", "车牌[车牌号]的车", ("license_plate",)),
    ("粤b 12345", "[车牌号]", ("license_plate",)),
    ("京A·12345", "[车牌号]", ("license_plate",)),
    ("京A.12345", "[车牌号]", ("license_plate",)),
    ("京a12345", "[车牌号]", ("license_plate",)),
    ("沪 A 12345", "[车牌号]", ("license_plate",)),
    ("新能源京AD12345", "新能源[车牌号]", ("license_plate",)),
    ("京A12345D", "[车牌号]", ("license_plate",)),
    ("粤B·D12345", "[车牌号]", ("license_plate",)),
    ("苏E1234警", "[车牌号]", ("license_plate",)),
    ("鄂A1234学", "[车牌号]", ("license_plate",)),
    ("鲁B1234挂", "[车牌号]", ("license_plate",)),
    # a surname before an official title
    ("王局长说要开会", "[姓名]局长说要开会", ("person",)),
    ("李XX副主任", "[姓名]副主任", ("person",)),
    ("李xx副主任", "[姓名]副主任", ("person",)),
    ("张书记", "[姓名]书记", ("person",)),
    ("刘镇长", "[姓名]镇长", ("person",)),
    ("陈主任", "[姓名]主任", ("person",)),
    ("欧阳副书记", "[姓名]副书记", ("person",)),
    ("司马主任", "[姓名]主任", ("person",)),
    ("王某局长", "[姓名]局长", ("person",)),
    ("张某某书记", "[姓名]书记", ("person",)),
    ("李××主任", "[姓名]主任", ("person",)),
    ("赵**科长", "[姓名]科长", ("person",)),
    ("周○○乡长", "[姓名]乡长", ("person",)),
    ("孙县长", "[姓名]县长", ("person",)),
    ("朱市长", "[姓名]市长", ("person",)),
    ("郭股长", "[姓名]股长", ("person",)),
    ("何所长", "[姓名]所长", ("person",)),
    ("高站长", "[姓名]站长", ("person",)),
    ("林部长", "[姓名]部长", ("person",)),
    ("罗处长", "[姓名]处长", ("person",)),
    ("郑主席", "[姓名]主席", ("person",)),
    ("谢委员", "[姓名]委员", ("person",)),
    ("宋组长", "[姓名]组长", ("person",)),
    ("唐队长", "[姓名]队长", ("person",)),
    ("许村长", "[姓名]村长", ("person",)),
    ("韩支书", "[姓名]支书", ("person",)),
    ("冯总说", "[姓名]总说", ("person",)),
    ("邓经理", "[姓名]经理", ("person",)),
    ("曹总经理", "[姓名]总经理", ("person",)),
    ("彭常务副县长", "[姓名]常务副县长", ("person",)),
    ("今天王局长和李书记都来了", "今天[姓名]局长和[姓名]书记都来了", ("person",)),
    ("找周主任签字", "找[姓名]主任签字", ("person",)),
    ("王\u200b局长", "[姓名]局长", ("person",)),
    # several kinds at once: reported once each, in KINDS order
    (
        "邮箱a@b.cn，电话13800138000，身份证11010519491231002X，再打13900139000",
        "邮箱[邮箱]，电话[手机号]，身份证[身份证号]，再打[手机号]",
        ("phone", "id_card", "email"),
    ),
    (
        "联系王局长，电话13800138000，微信wang_li88，车牌粤b 12345",
        "联系[姓名]局长，电话[手机号]，微信[社交账号]，车牌[车牌号]",
        ("phone", "im_account", "license_plate", "person"),
    ),
]

UNCHANGED: list[str] = [
    # numbers that are not identifiers
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
    "金额 3,800,138,000 元",
    "全角数字１２３和ＡＢＣ保持原样",
    # ID-card numbers with a wrong check digit (and not Luhn-valid) stay
    "错误校验位 110105194912310021",
    "440524188001010015",
    "44052418800101001X",
    # dates, times, money, percentages, counts
    "2024年3月5日召开会议",
    "2024-03-05 召开会议",
    "2024/03/05 到 2024/03/07",
    "2024.03.05-2024.03.07",
    "二〇二四年三月五日",
    "会议 09:30 开始，11:45 结束",
    "补贴3000元",
    "￥1,200",
    "¥12,345.67",
    "共计3,800,138,000元",
    "完成率 85.5%",
    "百分之三十",
    "开了12次会",
    "一年开了一百二十次会",
    "一天填了五六张表",
    "2024年第3季度，第12周，3月5日",
    "十三五规划",
    # document numbers
    "〔2024〕12号",
    "[2024]12号",
    "某发〔2023〕5号",
    "国办发〔2024〕15号文件",
    "会议纪要（2024）第12期",
    "编号 NO.20240305",
    # titles without a surname, and words that end in a surname character
    "局长说要开会",
    "书记带头填表",
    "副主任们都在",
    "各位局长",
    "新任局长来检查",
    "前任书记留下的台账",
    "现任县长",
    "担任主任以来",
    "公安局长",
    "西安市长",
    "林区长期缺水",
    "周会长达三小时",
    "每周总结",
    "一张总表",
    "文书记录",
    "委员会开会",
    "主席台上",
    "班主任",
    "分管副县长",
    "主管局长",
    "党委书记",
    "县委书记",
    "镇党委副书记",
    "村支书",
    "总书记",
    "总经理办公会",
    "居委会主任",
    "办公室主任",
    "人大主任",
    "政协主席",
    "驻村第一书记",
    "三个局长",
    "两位书记",
    # chat apps, sites and letters that are not accounts, links or plates
    "we use WeChat groups every day",
    "微信群里每天打卡，钉钉也要打卡",
    "发到工作群，QQ群也发",
    "微信公众号和微信小程序",
    "user@localhost 不是邮箱",
    "I am at work now.",
    "在 weibo.com 上看到",
    "t.me 是电报",
    "京东和上海市",
    "沪A牌照的新能源车",
    "C#.net",
    # Chinese numerals in ordinary prose
    "一二三四五六七八九十",
    "三三两两，一一对应，九九八十一",
    # emoji joined by a zero-width joiner keep it
    "👩\u200d💻 加班到深夜",
    "❤️ 谢谢",
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
    assert len(MASKED) >= 100
    assert len(UNCHANGED) >= 50
    assert len(MASKED) + len(UNCHANGED) >= 150
    assert len({text for text, _, _ in MASKED} | set(UNCHANGED)) == len(MASKED) + len(UNCHANGED)
    assert {kind for _, _, kinds in MASKED for kind in kinds} == set(KINDS)


def test_every_kind_has_a_bracketed_chinese_placeholder() -> None:
    for kind in KINDS:
        placeholder = PLACEHOLDERS[kind]
        assert placeholder.startswith("[") and placeholder.endswith("]")
        assert not any(c.isdigit() for c in placeholder)
    assert len(set(PLACEHOLDERS.values())) == len(KINDS)


def test_text_around_masks_is_kept_exactly() -> None:
    text = "　全角空格、ＡＢＣ与①②③保留；电话１３８ ００１３ ８０００！"
    assert scrub(text).text == "　全角空格、ＡＢＣ与①②③保留；电话[手机号]！"


@pytest.mark.parametrize(
    "invisible",
    ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u200e", "\u200f"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u180e", "\u061c", "\u034f", "\u3164", "\x00", "\x1b"],
)
def test_invisible_characters_are_removed_even_without_an_identifier(invisible: str) -> None:
    result = scrub(f"填表{invisible}太多{invisible}")
    assert result.text == "填表太多"
    assert result.masked == ()


def test_line_breaks_and_tabs_are_kept() -> None:
    text = "第一条：填表太多\n第二条：\t会议太多\r\n完"
    assert scrub(text).text == text
