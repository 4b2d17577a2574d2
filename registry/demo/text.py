"""Report text in English, Russian and Kazakh, and queries that paraphrase it: for sample registries.

Agencies in Kazakhstan and its neighbours describe machines in Russian or
Kazakh, INTERPOL notices are in English.  ``registry.demo.reports`` draws what a
description says (``DescriptionFacts``: colour, machine, equipment,
condition, hours, marks) and this module writes it in a language; the same
facts give the same content in every language, and English is exactly what
the generator wrote before it had other languages.

``paraphrase`` writes a query naming some of a report's facts the way an
officer would type them: other word forms than the description's (other
cases, plural, a colour as "жёлтого цвета" where the report says "Жёлтый",
"тас шөміші бар" where it says "тас шөмішімен"), other words for the same
thing (breaker for hammer), makers in Cyrillic or misspelt, models typed on a
Russian keyboard.  That is the labelled set of ``bench/descriptions_bench.py``
and ``tests/test_descriptions.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final

from search.vocabulary_data import VOCABULARY

EN, RU, KK = "en", "ru", "kk"
LANGUAGES: Final = (EN, RU, KK)

# Russian: adjective endings by gender (m, f, n), genitive singular (m/n, f).
_RU_HARD = ("ый", "ая", "ое", "ого", "ой")
_RU_SOFT = ("ий", "яя", "ее", "его", "ей")
_RU_COLOURS: Final = {  # stem, endings
    "white": ("бел", _RU_HARD), "orange": ("оранжев", _RU_HARD), "blue": ("син", _RU_SOFT),
    "red": ("красн", _RU_HARD), "yellow": ("жёлт", _RU_HARD), "green": ("зелён", _RU_HARD),
    "gray": ("сер", _RU_HARD), "black": ("чёрн", _RU_HARD), "silver": ("серебрист", _RU_HARD),
    "dark blue": ("тёмно-син", _RU_SOFT),
}
_KK_COLOURS: Final = {
    "white": "ақ", "orange": "қызғылт сары", "blue": "көк", "red": "қызыл", "yellow": "сары", "green": "жасыл",
    "gray": "сұр", "black": "қара", "silver": "күміс", "dark blue": "қою көк",
}
_GENDER = {"m": 0, "f": 1, "n": 2}

# noun: (Russian, gender, Russian genitive, Kazakh, Kazakh with possessive, English in a query)
NOUNS: Final = {
    "crawler excavator": ("гусеничный экскаватор", "m", "гусеничного экскаватора", "шынжыр табанды экскаватор",
                          "шынжыр табанды экскаваторы", "tracked excavators"),
    "wheel loader": ("фронтальный погрузчик", "m", "фронтального погрузчика", "дөңгелекті тиегіш",
                     "дөңгелекті тиегіші", "wheeled loaders"),
    "crawler dozer": ("гусеничный бульдозер", "m", "гусеничного бульдозера", "шынжыр табанды бульдозер",
                      "шынжыр табанды бульдозері", "bulldozers on tracks"),
    "motor grader": ("автогрейдер", "m", "автогрейдера", "автогрейдер", "автогрейдері", "graders"),
    "rigid haul truck": ("карьерный самосвал", "m", "карьерного самосвала", "карьерлік самосвал",
                         "карьерлік самосвалы", "mining trucks"),
    "mining excavator": ("карьерный экскаватор", "m", "карьерного экскаватора", "карьерлік экскаватор",
                         "карьерлік экскаваторы", "mining shovels"),
    "articulated hauler": ("сочленённый самосвал", "m", "сочленённого самосвала", "буынды самосвал",
                           "буынды самосвалы", "articulated dumpers"),
    "backhoe loader": ("экскаватор-погрузчик", "m", "экскаватора-погрузчика", "экскаватор-тиегіш",
                       "экскаватор-тиегіші", "backhoes"),
    "surface drill rig": ("буровая установка", "f", "буровой установки", "бұрғылау қондырғысы",
                          "бұрғылау қондырғысы", "drilling rigs"),
    "down-the-hole drill rig": ("буровой станок", "m", "бурового станка", "бұрғылау қондырғысы",
                                "бұрғылау қондырғысы", "DTH drills"),
    "rotary blasthole drill": ("буровой станок шарошечного бурения", "m", "бурового станка",
                               "айналмалы бұрғылау қондырғысы", "айналмалы бұрғылау қондырғысы", "blasthole drills"),
    "underground loader": ("подземный погрузчик", "m", "подземного погрузчика", "жерасты тиегіш",
                           "жерасты тиегіші", "underground loaders"),
    "mobile jaw crusher": ("мобильная щековая дробилка", "f", "мобильной щековой дробилки",
                           "жылжымалы жақты ұсатқыш", "жылжымалы жақты ұсатқышы", "jaw crushers"),
    "underground mine truck": ("шахтный самосвал", "m", "шахтного самосвала", "шахталық самосвал",
                               "шахталық самосвалы", "mine trucks"),
    "mining dump truck": ("карьерный самосвал", "m", "карьерного самосвала", "карьерлік самосвал",
                          "карьерлік самосвалы", "mining dump trucks"),
    "dump truck": ("самосвал", "m", "самосвала", "самосвал", "самосвалы", "tippers"),
    "flatbed truck": ("бортовой грузовик", "m", "бортового грузовика", "бортты жүк көлігі", "бортты жүк көлігі",
                      "flatbed trucks"),
    "tractor unit": ("седельный тягач", "m", "седельного тягача", "ершікті тартқыш", "ершікті тартқышы",
                     "tractor trucks"),
    "hydraulic breaker": ("гидромолот", "m", "гидромолота", "гидравликалық балға", "гидравликалық балғасы",
                          "hydraulic hammers"),
    "excavator bucket": ("ковш экскаватора", "m", "ковша экскаватора", "экскаватор шөміші", "экскаватор шөміші",
                         "excavator buckets"),
    "loader rock bucket": ("скальный ковш погрузчика", "m", "скального ковша погрузчика", "тиегіштің тас шөміші",
                           "тиегіштің тас шөміші", "rock buckets for loaders"),
    "diesel generator set": ("дизель-генератор", "m", "дизель-генератора", "дизель генераторы", "дизель генераторы",
                             "gensets"),
    "mobile generator set": ("передвижная электростанция", "f", "передвижной электростанции",
                             "жылжымалы электр станциясы", "жылжымалы электр станциясы", "mobile gensets"),
    "portable air compressor": ("передвижной компрессор", "m", "передвижного компрессора", "жылжымалы компрессор",
                                "жылжымалы компрессоры", "air compressors"),
    "mobile cone crusher": ("мобильная конусная дробилка", "f", "мобильной конусной дробилки",
                            "жылжымалы конусты ұсатқыш", "жылжымалы конусты ұсатқышы", "cone crushers"),
    "mobile light tower": ("осветительная мачта", "f", "осветительной мачты", "жылжымалы жарық мұнарасы",
                           "жылжымалы жарық мұнарасы", "light towers"),
    "diesel dewatering pump": ("дизельный водоотливной насос", "m", "дизельного водоотливного насоса",
                               "дизельді су сорғысы", "дизельді су сорғысы", "dewatering pumps"),
    "engine-driven welder": ("сварочный агрегат", "m", "сварочного агрегата", "дәнекерлеу агрегаты",
                             "дәнекерлеу агрегаты", "welding units"),
}

# equipment as written in English: (English in a query, Russian after "оснащён", Russian in a query,
# Kazakh before "жабдықталған", Kazakh in a query)
EQUIPMENT_TEXT: Final = {
    "a rock bucket": ("rock buckets", "скальным ковшом", "скальный ковш", "тас шөмішімен", "тас шөміші бар"),
    "a general-purpose bucket": ("general purpose buckets", "ковшом общего назначения", "ковш общего назначения",
                                 "жалпы мақсаттағы шөмішпен", "жалпы мақсаттағы шөміші бар"),
    "a hydraulic quick coupler": ("hydraulic quick-couplers", "гидравлическим быстросъёмом",
                                  "гидравлический быстросъём", "гидравликалық жылдам ажыратқышпен",
                                  "жылдам ажыратқышы бар"),
    "hammer piping": ("piping for a breaker", "гидролинией под гидромолот", "гидролиния под гидромолот",
                      "балғаға арналған гидрожелімен", "балға гидрожелісі бар"),
    "reinforced track guards": ("heavy-duty track guards", "усиленной защитой гусениц", "усиленная защита гусениц",
                                "күшейтілген шынжыр табан қорғанышымен", "шынжыр табан қорғанышы бар"),
    "a thumb clamp": ("thumb clamps", "клещевым захватом", "клещевой захват", "қысқышпен", "қысқышы бар"),
    "a rear-view camera": ("rearview cameras", "камерой заднего вида", "камера заднего вида",
                           "артқы көрініс камерасымен", "артқы көрініс камерасы бар"),
    "a heavy-duty rock bucket with side cutters": (
        "heavy duty rock buckets with side cutters", "усиленным скальным ковшом с боковыми ножами",
        "усиленный скальный ковш с боковыми ножами", "бүйір пышақтары бар күшейтілген тас шөмішімен",
        "күшейтілген тас шөміші бар"),
    "pallet forks": ("a pallet fork", "паллетными вилами", "паллетные вилы", "жүк айырларымен", "айыры бар"),
    "tire chains": ("tyre chains", "цепями противоскольжения", "цепи противоскольжения",
                    "сырғанауға қарсы шынжырлармен", "шынжырлары бар"),
    "a ride control system": ("ride control", "системой плавности хода", "система плавности хода",
                              "жүріс тегістігі жүйесімен", "жүріс тегістігі жүйесі бар"),
    "a high-lift boom": ("high lift booms", "удлинённой стрелой", "удлинённая стрела", "ұзартылған жебемен",
                         "ұзартылған жебесі бар"),
    "a quick coupler": ("quick couplers", "быстросъёмом", "быстросъём", "жылдам ажыратқышпен",
                        "жылдам ажыратқышы бар"),
    "a single-shank ripper": ("single shank rippers", "однозубым рыхлителем", "однозубый рыхлитель",
                              "бір тісті қопсытқышпен", "бір тісті қопсытқышы бар"),
    "a semi-U blade": ("semi-U blades", "полусферическим отвалом", "полусферический отвал",
                       "жартылай сфералық күрекпен", "жартылай сфералық күрегі бар"),
    "a three-shank ripper": ("three shank rippers", "трёхзубым рыхлителем", "трёхзубый рыхлитель",
                             "үш тісті қопсытқышпен", "үш тісті қопсытқышы бар"),
    "a U blade": ("U-blades", "сферическим отвалом", "сферический отвал", "сфералық күрекпен",
                  "сфералық күрегі бар"),
    "a ROPS cab": ("ROPS cabs", "кабиной ROPS", "кабина ROPS", "ROPS кабинасымен", "ROPS кабинасы бар"),
    "a rear ripper": ("rear rippers", "задним рыхлителем", "задний рыхлитель", "артқы қопсытқышпен",
                      "артқы қопсытқышы бар"),
    "a front push plate": ("front push plates", "передней толкающей плитой", "передняя толкающая плита",
                           "алдыңғы итергіш тақтамен", "алдыңғы итергіш тақтасы бар"),
    "a snow wing": ("snow wings", "снежным крылом", "снежное крыло", "қар қанатымен", "қар қанаты бар"),
    "a scarifier": ("scarifiers", "кирковщиком", "кирковщик", "қопсытқышпен", "қопсытқышы бар"),
    "GPS grade control": ("GPS grade-control", "системой нивелирования GPS", "GPS-нивелирование",
                          "GPS деңгей бақылауымен", "GPS жүйесі бар"),
    "body liners": ("a body liner", "футеровкой кузова", "футеровка кузова", "шанақ футеровкасымен",
                    "шанақ футеровкасы бар"),
    "a fire suppression system": ("fire-suppression", "системой пожаротушения", "система пожаротушения",
                                  "өрт сөндіру жүйесімен", "өрт сөндіру жүйесі бар"),
    "a heated dump body": ("heated dump bodies", "кузовом с обогревом", "обогреваемый кузов",
                           "жылытылатын шанақпен", "жылытылатын шанағы бар"),
    "an autolube system": ("autolube", "системой автосмазки", "автосмазка", "автомайлау жүйесімен",
                           "автомайлауы бар"),
    "a payload monitor": ("payload monitoring", "системой контроля загрузки", "контроль загрузки",
                          "жүктемені бақылау жүйесімен", "жүктемені бақылау жүйесі бар"),
    "a steel dump body": ("steel dump bodies", "стальным самосвальным кузовом", "стальной самосвальный кузов",
                          "болат шанақпен", "болат шанағы бар"),
    "a tarpaulin cover": ("tarpaulin covers", "тентом", "тент", "брезент тентпен", "тенті бар"),
    "rock liners in the body": ("rock-lined body", "бронелистами в кузове", "бронелисты в кузове",
                                "шанақтағы қорғаныш пластиналармен", "шанағында қорғаныш пластиналары бар"),
    "a fuel tank of 400 liters": ("400 liter fuel tank", "топливным баком на 400 литров", "топливный бак 400 л",
                                  "400 литрлік жанармай багымен", "400 литрлік жанармай багы бар"),
    "a dust collector": ("dust collectors", "пылеуловителем", "пылеуловитель", "шаң жинағышпен",
                         "шаң жинағышы бар"),
    "a rod changer carousel": ("rod-changer carousels", "кассетой штанг", "кассета штанг",
                               "штанга ауыстырғышпен", "штанга ауыстырғышы бар"),
    "an air-conditioned cab": ("cab air conditioning", "кабиной с кондиционером", "кабина с кондиционером",
                               "кондиционері бар кабинамен", "кабинасында кондиционер бар"),
    "GPS hole navigation": ("GPS navigation", "GPS-навигацией скважин", "GPS-навигация",
                            "ұңғыма GPS навигациясымен", "GPS навигациясы бар"),
    "a spare drill string": ("spare drill rods", "запасным буровым ставом", "запасной буровой став",
                             "қосалқы бұрғы штангаларымен", "қосалқы бұрғы штангалары бар"),
    "a tracked chassis": ("tracks", "гусеничным шасси", "гусеничное шасси", "шынжыр табанды шассимен",
                          "шынжыр табанды шассиі бар"),
    "a side conveyor": ("side conveyors", "боковым конвейером", "боковой конвейер", "бүйір конвейермен",
                        "бүйір конвейері бар"),
    "a magnetic separator": ("magnetic separators", "магнитным сепаратором", "магнитный сепаратор",
                             "магниттік сепаратормен", "магниттік сепараторы бар"),
    "a pre-screen": ("pre-screens", "предварительным грохотом", "предварительный грохот",
                     "алдын ала електеуішпен", "алдын ала електеуіші бар"),
    "a remote control": ("remote controls", "пультом дистанционного управления", "дистанционное управление",
                         "қашықтан басқару пультімен", "қашықтан басқару пульті бар"),
    "a soundproof canopy": ("soundproof canopies", "шумозащитным кожухом", "шумозащитный кожух",
                            "дыбыс өткізбейтін қаптамамен", "дыбыс өткізбейтін қаптамасы бар"),
    "a two-axle trailer": ("two axle trailers", "двухосным прицепом", "двухосный прицеп", "екі осьті тіркемемен",
                           "екі осьті тіркемесі бар"),
    "a 1,000-liter fuel tank": ("1000 liter fuel tank", "топливным баком на 1000 литров", "бак 1000 л",
                                "1000 литрлік жанармай багымен", "жанармай багы бар"),
    "an automatic transfer panel": ("automatic transfer panels", "щитом АВР", "щит АВР",
                                    "автоматты ауыстыру панелімен", "ауыстыру панелі бар"),
    "a single-axle trailer": ("single axle trailers", "одноосным прицепом", "одноосный прицеп",
                              "бір осьті тіркемемен", "бір осьті тіркемесі бар"),
    "an aftercooler": ("aftercoolers", "концевым охладителем", "концевой охладитель", "салқындатқышпен",
                       "салқындатқышы бар"),
    "a hose reel": ("hose reels", "барабаном для шланга", "барабан со шлангом", "шланг барабанымен",
                    "шланг барабаны бар"),
    "a towbar with lights": ("towbars with lights", "сцепным устройством с фонарями", "сцепное устройство с фарами",
                             "шамдары бар тіркеу құрылғысымен", "тіркеу құрылғысы бар"),
    "a mounting bracket": ("mounting brackets", "монтажным кронштейном", "монтажный кронштейн",
                           "бекіту кронштейнімен", "кронштейні бар"),
    "a chisel tool": ("chisels", "долотом", "долото", "қашаумен", "қашауы бар"),
    "a moil point": ("moil points", "пикой", "пика", "пикамен", "пикасы бар"),
    "a hose kit": ("hose kits", "комплектом рукавов", "комплект рукавов", "шланг жинағымен", "шлангтары бар"),
    "an auto-lubrication unit": ("auto lubrication", "блоком автосмазки", "автосмазка", "автомайлау блогымен",
                                 "автомайлауы бар"),
    "a trailer": ("trailers", "прицепом", "прицеп", "тіркемемен", "тіркемесі бар"),
    "a fuel tank": ("fuel tanks", "топливным баком", "топливный бак", "жанармай багымен", "жанармай багы бар"),
    "spare hoses": ("a spare hose", "запасными шлангами", "запасные шланги", "қосалқы шлангтармен",
                    "қосалқы шлангтары бар"),
    "a control box": ("control boxes", "пультом управления", "пульт управления", "басқару қорабымен",
                      "басқару қорабы бар"),
    "replaceable teeth": ("replaceable tooth", "сменными зубьями", "сменные зубья", "ауыстырылатын тістермен",
                          "ауыстырылатын тістері бар"),
    "side cutters": ("a side cutter", "боковыми ножами", "боковые ножи", "бүйір пышақтармен",
                     "бүйір пышақтары бар"),
    "wear plates": ("a wear plate", "износостойкими пластинами", "износостойкие пластины",
                    "тозуға төзімді пластиналармен", "тозуға төзімді пластиналары бар"),
    "a quick-coupler bracket": ("quick coupler brackets", "кронштейном под быстросъём", "кронштейн быстросъёма",
                                "жылдам ажыратқыш кронштейнімен", "жылдам ажыратқыш кронштейні бар"),
    "a bolt-on cutting edge": ("bolt-on cutting edges", "болтовой режущей кромкой", "болтовая режущая кромка",
                               "болтпен бекітілген кесу жиегімен", "кесу жиегі бар"),
    "a fifth wheel": ("fifth-wheel coupling", "седельным устройством", "седельное устройство", "ершікпен",
                      "ершігі бар"),
    "a sleeper cab": ("sleeper cabs", "кабиной со спальным местом", "кабина со спальником",
                      "ұйықтайтын орны бар кабинамен", "ұйықтайтын орны бар"),
    "hydraulic wet kit for tipper trailers": (
        "a wet kit", "гидрооборудованием для самосвальных полуприцепов", "гидрооборудование для полуприцепа",
        "жартылай тіркемелерге арналған гидрожабдықпен", "гидрожабдығы бар"),
    "a fuel tank of 600 liters": ("600 liter fuel tank", "топливным баком на 600 литров", "бак на 600 л",
                                  "600 литрлік жанармай багымен", "600 литрлік багы бар"),
    "a roof spoiler": ("roof spoilers", "спойлером на крыше", "спойлер на крыше", "төбе спойлерімен",
                       "спойлері бар"),
    "a winch": ("winches", "лебёдкой", "лебёдка", "шығырмен", "шығыры бар"),
    "a flatbed with drop sides": ("drop-side flatbed", "платформой с откидными бортами",
                                  "платформа с откидными бортами", "ашылатын борттары бар платформамен",
                                  "платформасы бар"),
    "a crane arm": ("crane arms", "краном-манипулятором", "кран-манипулятор", "кран-манипулятормен",
                    "кран-манипуляторы бар"),
}

# condition as written in English: (Russian, Kazakh)
CONDITION_TEXT: Final = {
    "in good working condition": ("в хорошем рабочем состоянии", "жақсы жұмыс күйінде"),
    "in working order": ("в исправном состоянии", "жұмысқа жарамды күйде"),
    "recently serviced": ("после недавнего ТО", "жақында техникалық қызмет көрсетілген"),
    "freshly repainted": ("со свежей покраской", "жақында қайта боялған"),
    "in fair condition with visible wear": ("в удовлетворительном состоянии, со следами износа",
                                            "орташа күйде, тозу белгілері бар"),
    "with a recently rebuilt engine": ("с недавно отремонтированным двигателем", "қозғалтқышы жақында жөнделген"),
    "in very good condition": ("в очень хорошем состоянии", "өте жақсы күйде"),
    "with minor dents and scratches": ("с небольшими вмятинами и царапинами", "шағын майысулар мен сызаттары бар"),
    "in need of minor repairs": ("требует мелкого ремонта", "шағын жөндеуді қажет етеді"),
}

# distinguishing mark templates (index into reports.MARKS): (Russian, Kazakh, English query, Russian query,
# Kazakh query).  {fleet}, {company}, {other_color} as in MARKS; {other_ru_gen}, {other_ru_inst}, {other_ru_m},
# {other_kk} are the colour in Russian and Kazakh.
MARK_TEXT: Final = (
    ("бортовой номер {fleet} нанесён сзади", "артқы жағында {fleet} борттық нөмірі жазылған",
     "fleet no. {fleet} on the back", "с бортовым номером {fleet} сзади", "артында {fleet} борттық нөмірі"),
    ("бортовой номер {fleet} на обеих дверях кабины", "кабинаның екі есігінде {fleet} борттық нөмірі",
     "{fleet} fleet numbers on the doors", "бортовым номером {fleet} на дверях", "есіктерінде {fleet} нөмірі"),
    ("логотип владельца «{company}» на дверях кабины", "кабина есіктерінде иесінің «{company}» логотипі",
     "{company} logos on the doors", "с логотипом {company} на двери", "есігінде {company} логотипі бар"),
    ("логотип {company} закрашен {other_ru_inst} краской", "{company} логотипі {other_kk} түспен боялған",
     "{company} logo painted over", "закрашенный логотип {company}", "{company} логотипі боялған"),
    ("следы сварки на левой стороне рамы", "раманың сол жағында дәнекерленген жөндеу",
     "welds on the frame", "сварка на раме", "рамасы дәнекерленген"),
    ("треснуто лобовое стекло", "алдыңғы әйнегі жарылған",
     "cracked windshield", "трещина на лобовом стекле", "әйнегі жарылған"),
    ("отсутствует правое зеркало", "оң жақ айнасы жоқ",
     "right mirror missing", "правого зеркала нет", "оң айнасы жоқ"),
    ("вмятина на капоте двигателя", "капотта ойық бар",
     "dented hood", "помятый капот", "капоты майысқан"),
    ("неоригинальная светодиодная балка на крыше кабины", "кабина төбесінде түпнұсқа емес жарық шамдары",
     "LED lights on the roof", "светодиодные фары на крыше", "төбесінде жарық шамдары"),
    ("неоригинальный капот {other_ru_gen} цвета", "түпнұсқа емес {other_kk} капот",
     "{other_color} hood", "{other_ru_m} капот", "капоты {other_kk}"),
    ("антенна GPS-трекера на крыше кабины, кабель перерезан", "кабина төбесінде GPS трекер антеннасы, кабелі кесілген",
     "GPS antenna with a cut cable", "перерезанный кабель GPS", "GPS кабелі кесілген"),
    ("заводская табличка частично закрашена", "зауыт тақтайшасы жартылай боялған",
     "painted-over serial plate", "закрашенная табличка", "тақтайшасы боялған"),
    ("счётчик моточасов заменён, показания не соответствуют наработке", "мотосағат есептегіші ауыстырылған",
     "replaced hour meter", "заменённый счётчик моточасов", "мотосағат есептегіші ауыстырылған"),
    ("кронштейн огнетушителя приварен у двери", "есік жанына өрт сөндіргіш кронштейні пісірілген",
     "extinguisher bracket welded by the door", "приваренный кронштейн огнетушителя", "өрт сөндіргіш кронштейні"),
)


@dataclass(frozen=True)
class MarkFacts:
    """A distinguishing mark: two are the same mark when they read the same."""

    template: int = field(compare=False)  # index into MARK_TEXT (and reports.MARKS)
    english: str  # as written in English
    fleet: str = field(compare=False)
    company: str = field(compare=False)
    other_color: str = field(compare=False)


@dataclass(frozen=True)
class DescriptionFacts:
    """What a generated report says about its machine, whatever the language it is written in."""

    color: str | None
    manufacturer: str
    model: str | None
    noun: str
    category: str
    equipment: tuple[str, ...]  # as written in English, one or two
    condition: str
    km: int | None
    hours: int | None
    marks: tuple[MarkFacts, ...]


def english_description(facts: DescriptionFacts) -> str:
    name = f"{facts.manufacturer} {facts.model}" if facts.model else facts.manufacturer
    lead = f"{facts.color.capitalize()} {name}" if facts.color else name
    text = f"{lead} {facts.noun}, {facts.condition}, fitted with {' and '.join(facts.equipment)}."
    if facts.km is not None:
        text += f" Odometer about {facts.km:,} km."
    elif facts.hours is not None:
        text += f" About {facts.hours:,} operating hours on the meter."
    return text


def description(facts: DescriptionFacts, language: str, cyrillic_maker: bool) -> str:
    """The description in ``language``; ``cyrillic_maker`` writes the maker's Russian name (Комацу)."""
    if language == EN:
        return english_description(facts)
    maker = russian_name(facts.manufacturer) if cyrillic_maker else facts.manufacturer
    name = f"{maker} {facts.model}" if facts.model else maker
    if language == RU:
        noun, gender, _, _, _, _ = NOUNS[facts.noun]
        lead = f"{noun} {name}"
        if facts.color:
            lead = f"{_ru_colour(facts.color, gender)} {lead}"
        fitted = {"m": "оснащён", "f": "оснащена", "n": "оснащено"}[gender]
        equipment = " и ".join(EQUIPMENT_TEXT[e][1] for e in facts.equipment)
        text = f"{lead[0].upper()}{lead[1:]}, {CONDITION_TEXT[facts.condition][0]}, {fitted} {equipment}."
        if facts.km is not None:
            text += f" Пробег около {facts.km:,} км.".replace(",", " ")
        elif facts.hours is not None:
            text += f" Наработка около {facts.hours:,} моточасов.".replace(",", " ")
        return text
    noun = NOUNS[facts.noun][3]
    colour = f"{_kk_colour(facts.color).capitalize()} түсті " if facts.color else ""
    equipment = " және ".join(EQUIPMENT_TEXT[e][3] for e in facts.equipment)
    text = f"{colour}{name} {noun}, {CONDITION_TEXT[facts.condition][1]}, {equipment} жабдықталған."
    text = text[0].upper() + text[1:]
    if facts.km is not None:
        text += f" Жүрген жолы шамамен {facts.km} км."
    elif facts.hours is not None:
        text += f" Мотосағаты шамамен {facts.hours}."
    return text


def marks(facts: DescriptionFacts, language: str) -> str | None:
    """The distinguishing marks in ``language`` (None when the report has none)."""
    if not facts.marks:
        return None
    if language == EN:
        text = "; ".join(m.english for m in facts.marks)
    else:
        column = 0 if language == RU else 1
        text = "; ".join(MARK_TEXT[m.template][column].format(**_mark_fields(m)) for m in facts.marks)
    return text[0].upper() + text[1:] + "."


def russian_name(manufacturer: str) -> str:
    """The Russian spelling of a maker the vocabulary knows (its first), else the name as it is."""
    return _RUSSIAN_NAMES.get(manufacturer.casefold(), manufacturer)


# --------------------------------------------------------------------------
# Queries that paraphrase a report
# --------------------------------------------------------------------------


def attributes(facts: DescriptionFacts) -> list[tuple[str, object]]:
    """What a query could name of a report: (kind, value) pairs."""
    found: list[tuple[str, object]] = [("maker", facts.manufacturer), ("noun", facts.noun)]
    if facts.color:
        found.append(("color", facts.color))
    if facts.model:
        found.append(("model", facts.model))
    found += [("equipment", e) for e in dict.fromkeys(facts.equipment)]
    found += [("mark", m) for m in facts.marks]
    return found


def paraphrase(chosen: list[tuple[str, object]], facts: DescriptionFacts, language: str, rng: random.Random) -> str:
    """A query naming ``chosen`` attributes in ``language``, worded otherwise than a description.

    A model that is a bare number (KAMAZ 6520) is written after its maker, as anyone would.
    """
    phrases = []
    for kind, value in chosen:
        if kind == "model" and str(value).isdigit():
            if ("maker", facts.manufacturer) in chosen:
                continue  # written with the maker
            kind, value = "maker", facts.manufacturer
        phrase = _phrase(kind, value, language, rng)
        if kind == "maker" and facts.model and facts.model.isdigit() and ("model", facts.model) in chosen:
            phrase += " " + facts.model
        phrases.append(phrase)
    return " ".join(phrases)


def _phrase(kind: str, value, language: str, rng: random.Random) -> str:
    if kind == "color":
        if language == EN:
            return f"{value} coloured"
        if language == RU:
            return f"{_ru_colour(value, 'm', case=3)} цвета"
        return f"түсі {_kk_colour(value)}"
    if kind == "maker":
        spellings = _SPELLINGS.get(value.casefold())
        if spellings is None:
            return value
        latin, cyrillic = spellings
        if language == EN:
            return rng.choice(latin)
        return rng.choice(cyrillic if rng.random() < 0.6 else latin)
    if kind == "model":  # typed on a Russian keyboard now and then: РС300 for PC300
        if language == EN or rng.random() >= 0.5:
            return value
        return " ".join(w.translate(_TO_CYRILLIC) if any(c.isdigit() for c in w) else w for w in value.split())
    if kind == "noun":
        noun = NOUNS[value]
        return {EN: noun[5], RU: noun[2], KK: noun[4]}[language]
    if kind == "equipment":
        text = EQUIPMENT_TEXT[value]
        return {EN: text[0], RU: "с " + text[1] if rng.random() < 0.3 else text[2], KK: text[4]}[language]
    mark: MarkFacts = value
    column = {EN: 2, RU: 3, KK: 4}[language]
    return MARK_TEXT[mark.template][column].format(**_mark_fields(mark))


def _mark_fields(mark: MarkFacts) -> dict[str, str]:
    stem_, endings = _RU_COLOURS.get(mark.other_color, _RU_COLOURS["gray"])
    return {"fleet": mark.fleet, "company": mark.company, "other_color": mark.other_color,
            "other_ru_gen": stem_ + endings[3], "other_ru_inst": stem_ + endings[4], "other_ru_m": stem_ + endings[0],
            "other_kk": _kk_colour(mark.other_color)}


def _ru_colour(colour: str, gender: str, case: int | None = None) -> str:
    """A colour as a Russian adjective: ``gender`` m/f/n in the nominative, or ending ``case`` (3: genitive)."""
    index = _GENDER[gender] if case is None else case
    parts = colour.replace(" and ", "|").split("|")
    words = [_RU_COLOURS[p] for p in parts]
    *firsts, (stem_, endings) = words
    return "".join(f"{s}о-" for s, _ in firsts) + stem_ + endings[index]


def _kk_colour(colour: str) -> str:
    return "-".join(_KK_COLOURS[p] for p in colour.replace(" and ", "|").split("|"))


def _spellings() -> dict[str, tuple[list[str], list[str]]]:
    """Per maker name (folded): the Latin and the Cyrillic spellings the vocabulary lists."""
    found = {}
    for entry in VOCABULARY["concept"]:
        if entry["kind"] != "maker":
            continue
        latin, cyrillic = list(entry.get("en", [])), list(entry.get("ru", []))
        for name in latin + [entry["label"]]:
            found[name.casefold()] = (latin, cyrillic or latin)
    return found


_SPELLINGS: Final = _spellings()
_RUSSIAN_NAMES: Final = {name: spellings[1][0] for name, spellings in _SPELLINGS.items()}
_TO_CYRILLIC: Final = str.maketrans({"A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М",
                                     "O": "О", "P": "Р", "T": "Т", "X": "Х", "Y": "У"})
