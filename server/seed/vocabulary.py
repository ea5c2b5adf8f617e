"""Chinese words the demo data is assembled from: company names, industries, streets, job titles, visit notes."""

# Trade names of customer companies. Invented, and combined with a place and a
# line of business, so they do not name a real company on purpose.
TRADE_NAMES = (
    "恒通", "鼎力", "精诚", "华锐", "宏达", "众创", "博远", "天工", "瑞丰", "金鹏",
    "联合", "凯盛", "永信", "汇丰", "中鼎", "新航", "创力", "盛泰", "德隆", "远大",
    "长城", "飞跃", "力源", "宇航", "东方", "光明", "嘉禾", "海诚", "兴业", "顺达",
    "万通", "安泰", "佳和", "明阳", "富华", "晨光", "启航", "华信", "立新", "伟业",
    "益民", "达利", "金桥", "骏马", "中天", "正和", "卓越", "锦程", "亿达", "宏图",
    "鑫源", "泰和", "昌盛", "天成", "宝丰", "鸿运", "荣达", "联创", "北辰", "同力",
)

# Industries of the customers, each with the lines of business its company names use.
INDUSTRY_BUSINESSES = {
    "汽车零部件": ("汽车部件", "汽配", "精密制造", "机械"),
    "3C电子": ("电子", "电子科技", "精密", "光电"),
    "食品包装": ("食品", "包装", "包装机械", "饮料"),
    "光伏": ("光伏科技", "新能源", "光电"),
    "锂电": ("新能源", "电池", "能源科技"),
    "医药": ("药业", "制药", "生物科技"),
    "纺织": ("纺织", "织造", "服饰"),
    "家电": ("电器", "家电", "电机"),
    "工程机械": ("重工", "机械", "液压"),
    "五金制品": ("五金", "金属制品", "精密制造"),
    "塑料制品": ("塑胶", "塑料制品", "模具"),
    "物流仓储": ("物流设备", "仓储设备", "输送机械"),
}
# Appended to the industry's own lines of business for every company.
GENERAL_BUSINESSES = ("自动化", "智能科技", "实业", "机电")

STREETS = (
    "科技路", "工业大道", "创业路", "高新一路", "高新二路", "建设路", "人民路", "长江路", "黄河路", "解放路",
    "发展大道", "开发区大道", "科创路", "园区路", "智造大道", "新华路", "中山路", "兴业路", "滨河路", "东环路",
    "西环路", "纬三路", "经一路", "纬二路", "光明路", "富强路", "振兴路", "和平路", "工业园三路", "机场路",
)

# Contact job titles for each decision role. The roles are the values of
# Contact.decision_role.
DECISION_ROLE_TITLES = {
    "technical": ("设备部经理", "技术总监", "工艺工程师", "生产厂长", "自动化主管"),
    "purchasing": ("采购主管", "采购经理", "供应链总监"),
    "finance": ("财务总监", "财务经理"),
    "other": ("总经理", "行政主管", "项目经理", "董事长"),
}

# Short notes a rep writes after each kind of visit. The keys are the values of Visit.visit_type.
VISIT_SUMMARIES = {
    "routine": (
        "例行拜访，了解产线运行情况，客户反馈设备稳定。",
        "拜访设备部，确认下季度检修计划。",
        "与采购沟通年度框架协议续签事宜。",
        "送交新版产品手册，客户对伺服系统感兴趣。",
    ),
    "demo": (
        "现场演示视觉检测方案，客户要求提供样机试用。",
        "演示PLC与机器人联动，技术总监认可方案。",
        "为新产线做方案讲解，客户希望下月再做一次测试。",
    ),
    "follow_up": (
        "跟进报价，客户希望价格再下调百分之五。",
        "跟进样机试用结果，检测精度达到要求。",
        "跟进合同条款，财务要求分三期付款。",
    ),
    "service": (
        "处理变频器报警问题，已更换风扇，运行正常。",
        "配合售后工程师完成伺服参数调试。",
        "客户反映触摸屏偶发黑屏，已登记返修。",
    ),
}

ALLERGENS = ("牛奶蛋白过敏", "乳糖不耐受", "花生过敏", "鸡蛋过敏", "大豆过敏", "海鲜过敏")
