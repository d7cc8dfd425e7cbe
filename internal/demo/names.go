package demo

import "strings"

// Word lists for the invented province. Names are built from these so that
// they read as plausible Chinese place and person names without naming a
// real place or person on purpose.

// provinceName and provinceCode: one invented province with a GB/T
// 2260-style code.
const (
	provinceName = "中原省"
	provinceCode = "410000"
)

// cityStems are the stems of city names (…市).
var cityStems = split("嵩阳 河洛 淮川 伏牛 颍水 宛城 卫源 邙山 汝州 桐川 伊阳 商都")

// districtStems are the stems of urban district names (…区).
var districtStems = split("金水 东城 西城 南湖 北山 新华 文峰 龙亭 湖滨 解放 建设 人民 和平 高新 经开 红旗 中州 凤凰 白云 青龙")

// countyStems are the stems of rural county names (…县).
var countyStems = split("汝阳 宜川 临河 长垣 新安 孟津 柘城 西平 叶川 方城 淇水 温泉 固始 罗山 光明 博爱")

// streetStems are the stems of urban sub-district names (…街道).
var streetStems = split("花园路 人民路 文化路 建设路 解放路 东风路 丰产路 南阳路 经八路 大石桥 杜岭 未来路 黄河路 农科路 紫荆山 二七路 嵩山路 长江路 秦岭路 五一路")

// townStems are the stems of town (…镇) and township (…乡) names.
var townStems = split("柳林 古荥 王村 白沙 高山 石桥 黄店 关帝庙 城郊 双庙 龙王 马寨 刘集 杨楼 新店 老君庙 三官 罗庄 大营 孙店")

// communityStems are the stems of urban community names (…社区).
var communityStems = split("农科路 文博 幸福里 金桥 杨庄 锦江 桂园 红枫 和顺 翠竹 东明 凤鸣 康宁 顺河 永安 兴华 银杏 建新 瑞祥 北林 南苑 明珠 春晖 丰乐")

// villageSuffixes are joined to a surname to make a village name, e.g. 张庄村.
var villageSuffixes = split("庄 营 寨 岗 楼 集 店 屯 湾 桥 庙 坡")

// surnames with rough relative frequencies (weights sum to anything; they
// are expanded into surnameTable).
var surnames = []struct {
	s string
	w int
}{
	{"王", 72}, {"李", 70}, {"张", 68}, {"刘", 54}, {"陈", 47}, {"杨", 32}, {"赵", 20},
	{"黄", 22}, {"周", 20}, {"吴", 20}, {"徐", 15}, {"孙", 15}, {"胡", 13}, {"朱", 13},
	{"高", 12}, {"林", 11}, {"何", 11}, {"郭", 11}, {"马", 11}, {"罗", 9}, {"梁", 8},
	{"宋", 8}, {"郑", 8}, {"谢", 7}, {"韩", 7}, {"唐", 7}, {"冯", 6}, {"于", 6},
	{"董", 6}, {"萧", 5}, {"程", 5}, {"曹", 5}, {"袁", 5}, {"邓", 5}, {"许", 5},
	{"傅", 4}, {"沈", 4}, {"曾", 4}, {"彭", 4}, {"吕", 4}, {"苏", 4}, {"卢", 4},
	{"蒋", 4}, {"蔡", 4}, {"贾", 3}, {"丁", 3}, {"魏", 3}, {"薛", 3}, {"叶", 3},
	{"阎", 3}, {"余", 3}, {"潘", 3}, {"杜", 3}, {"戴", 3}, {"夏", 3}, {"钟", 3},
	{"汪", 3}, {"田", 3}, {"任", 3}, {"姜", 3}, {"范", 2}, {"方", 2}, {"石", 2},
	{"姚", 2}, {"谭", 2}, {"廖", 2}, {"邹", 2}, {"熊", 2}, {"金", 2}, {"陆", 2},
	{"郝", 2}, {"孔", 2}, {"白", 2}, {"崔", 2}, {"康", 2}, {"毛", 2}, {"邱", 2},
	{"秦", 2}, {"江", 2}, {"史", 2}, {"顾", 2}, {"侯", 2}, {"邵", 2}, {"孟", 2},
	{"龙", 1}, {"万", 1}, {"段", 1}, {"雷", 1}, {"钱", 1}, {"汤", 1}, {"尹", 1},
	{"黎", 1}, {"易", 1}, {"常", 1}, {"武", 1}, {"乔", 1}, {"贺", 1}, {"赖", 1},
	{"龚", 1}, {"文", 1}, {"欧阳", 1}, {"司马", 1},
}

// surnameTable repeats each surname by its weight so that a uniform index
// picks surnames by frequency.
var surnameTable = func() []string {
	var t []string
	for _, s := range surnames {
		for range s.w {
			t = append(t, s.s)
		}
	}
	return t
}()

// Characters for given names, by the sex the national id number encodes.
var (
	maleChars   = []rune("伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢阳建国志文博晨昊然峰")
	femaleChars = []rune("芳娜敏静丽艳娟霞秀玲桂英梅琳雪婷慧颖倩欣怡佳悦琪萍红燕丹蕾薇洁璐晶月瑶思雨涵")
)

// mobilePrefixes are the first three digits of mainland mobile numbers.
var mobilePrefixes = split("130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 173 176 177 178 180 181 182 183 184 185 186 187 188 189 191 198 199")

func split(s string) []string { return strings.Fields(s) }
