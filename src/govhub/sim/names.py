"""Chinese names as people really have them, and the ways clerks mistype them."""

from __future__ import annotations

import random

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严欧莫孔向常汤康易乔赖文")
COMPOUND_SURNAMES = ["欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙"]
GIVEN_CHARS = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红文辉力斌宇浩凯鹏飞林婷雪梅琳晨欣怡子涵思雨佳俊博瑞泽阳海波")
# Ethnic-minority full names often have no surname (e.g. Tibetan, Uyghur transliterations).
MINORITY_NAMES = ["扎西顿珠", "次仁卓玛", "买买提·艾力", "阿依古丽", "格桑拉姆", "普布次仁", "努尔古丽", "巴特尔", "其其格", "阿卜杜拉·吐尔逊"]
# Homophones and variant characters clerks substitute.
HOMOPHONES = {"伟": "玮", "丽": "莉", "明": "铭", "华": "骅", "军": "君", "静": "婧", "芳": "方", "娟": "鹃",
              "林": "琳", "杰": "洁", "玉": "钰", "红": "宏", "平": "萍", "英": "瑛", "涛": "韬", "斌": "彬"}
VARIANTS = {"强": "彊", "辉": "煇", "艳": "豔", "刚": "剛", "梅": "楳", "峰": "峯", "秀": "琇", "群": "羣"}


class NameMaker:
    def person_name(self, rng: random.Random, ethnicity: str = "01") -> tuple[str, str]:
        """Return (name, ethnicity code)."""
        if ethnicity != "01" and rng.random() < 0.6:
            return rng.choice(MINORITY_NAMES), ethnicity
        surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.01 else rng.choice(SURNAMES)
        given = "".join(rng.choice(GIVEN_CHARS) for _ in range(1 if rng.random() < 0.25 else 2))
        return surname + given, ethnicity

    def given_like(self, rng: random.Random, surname: str) -> str:
        return surname + "".join(rng.choice(GIVEN_CHARS) for _ in range(2))


def distort_name(rng: random.Random, name: str, kind: str) -> str:
    """One clerk's error of ``kind``: ``homophone``, ``variant`` or ``space``."""
    if kind == "space" and len(name) >= 2:
        i = rng.randrange(1, len(name))
        return name[:i] + " " + name[i:] if rng.random() < 0.7 else " " + name + " "
    table = HOMOPHONES if kind == "homophone" else VARIANTS
    idx = [i for i, ch in enumerate(name) if ch in table and i > 0]
    if not idx:
        return name
    i = rng.choice(idx)
    return name[:i] + table[name[i]] + name[i + 1:]
