"""Chinese personal names for the demo data, built from common surnames and given-name characters.

Every character here is in GB2312, so a GB2312 font subset can render every name.
"""

import random

# The most frequent surnames come first. They are drawn three times as often
# as the rest, which roughly follows their real frequency.
_FREQUENT_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
_OTHER_SURNAMES = (
    "郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦"
    "付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
SURNAMES = tuple(_FREQUENT_SURNAMES + _OTHER_SURNAMES)
_SURNAME_WEIGHTS = tuple(3 if surname in _FREQUENT_SURNAMES else 1 for surname in SURNAMES)

MALE_GIVEN_CHARACTERS = tuple("伟强磊军勇杰涛斌超明辉刚健鹏飞华平建国志峰宇浩俊博文亮成龙波鑫晨阳凯翔毅诚海洋林松柏栋睿轩泽宏振东")
FEMALE_GIVEN_CHARACTERS = tuple("芳娜敏静丽艳娟霞燕玲婷雪琳颖慧倩洁萍红梅莉兰琴云晶欣怡悦佳瑶梦妍淼雯蕾璐薇嘉露秀月凤彤")


class PersonNames:
    """A source of Chinese personal names that never returns the same name twice."""

    def __init__(self, rng: random.Random, reserved: tuple[str, ...] = ()) -> None:
        self._rng = rng
        self._used = set(reserved)

    def next(self) -> str:
        """Draw a name not drawn before and not reserved."""
        for _ in range(1000):
            name = self._draw()
            if name not in self._used:
                self._used.add(name)
                return name
        raise RuntimeError(f"No unused personal name found after 1000 draws, with {len(self._used)} names in use")

    def _draw(self) -> str:
        rng = self._rng
        surname = rng.choices(SURNAMES, weights=_SURNAME_WEIGHTS)[0]
        characters = MALE_GIVEN_CHARACTERS if rng.random() < 0.5 else FEMALE_GIVEN_CHARACTERS
        # About three in four people have a two-character given name.
        length = 2 if rng.random() < 0.75 else 1
        return surname + "".join(rng.choice(characters) for _ in range(length))
