"""Controlled vocabularies of the catalog: the codes a descriptor may use, with labels."""
from marketplace.languages import N_

ACCESS_RIGHTS = ("PUBLIC", "RESTRICTED", "NON_PUBLIC")
CONSENT_MODELS = ("opt_in", "opt_out")
STATUSES = ("draft", "published", "retired")
COLUMN_TYPES = ("string", "integer", "number", "date", "category")
COLUMN_ROLES = ("direct_identifier", "quasi_identifier", "sensitive", "attribute")
IDENTIFIER_KINDS = ("cpr", "name", "address", "phone", "email", "free_text")
CONCEPTS = ("birth_date", "age", "sex", "diagnosis", "municipality", "postcode", "event_date")
CODE_SYSTEMS = ("icd10", "sex", "municipality", "postcode")
GENERALISATIONS = {
    "age_band": {"width": (1, 50)},
    "date": {"to": ("year", "quarter", "month", "week", "shift"), "max_days": (1, 365)},
    "postcode": {"to": ("municipality", "region")},
    "truncate": {"chars": (1, 50)},
}

DUO_PERMISSIONS = ("GRU", "HMB", "DS", "POA", "NRES")
DUO_MODIFIERS = (
    "NCU", "NPU", "NPUNCU", "NPOA", "GS", "IS", "US", "PS", "TS", "MOR",
    "IRB", "COL", "PUB", "RTN",
)
# Modifiers that take an argument ("TS:12"), and what the argument is; the others take none.
DUO_MODIFIER_ARGUMENTS = {
    "TS": "months", "GS": "regions", "IS": "institutions", "US": "users", "PS": "project",
    "MOR": "date",
}
DUO_MODIFIER_HINTS_DA = {
    "TS": N_("Antal måneder, f.eks. 12. Kun når TS er valgt."),
    "GS": N_("Landekoder eller EU, EEA, NORDIC, f.eks. DK,SE. Kun når GS er valgt."),
    "IS": N_("Organisationers korte navne, f.eks. herlev-hospital. Kun når IS er valgt."),
    "US": N_("Brugeres login-id, f.eks. company-pulmo. Kun når US er valgt."),
    "PS": N_("Projektets id. Kun når PS er valgt."),
    "MOR": N_("Dato (ÅÅÅÅ-MM-DD) før hvilken intet må offentliggøres. Kun når MOR er valgt."),
}
# Regions a GS argument may name besides ISO 3166 country codes (the access engine expands them).
DUO_REGIONS = ("EU", "EEA", "NORDIC")
DUO_IRIS = {
    "NRES": "DUO_0000004", "GRU": "DUO_0000042", "HMB": "DUO_0000006", "DS": "DUO_0000007",
    "POA": "DUO_0000011", "NCU": "DUO_0000046", "NPU": "DUO_0000045", "NPUNCU": "DUO_0000018",
    "NPOA": "DUO_0000043", "GS": "DUO_0000022", "IS": "DUO_0000028", "US": "DUO_0000026",
    "PS": "DUO_0000027", "TS": "DUO_0000025", "MOR": "DUO_0000024", "IRB": "DUO_0000021",
    "COL": "DUO_0000020", "PUB": "DUO_0000019", "RTN": "DUO_0000029",
}

# EU data themes (the DCAT-AP theme vocabulary).
THEMES = {
    "HEAL": N_("Sundhed"),
    "SOCI": N_("Befolkning og samfund"),
    "GOVE": N_("Regering og offentlig sektor"),
    "EDUC": N_("Uddannelse, kultur og sport"),
    "ECON": N_("Økonomi og finanser"),
    "ENVI": N_("Miljø"),
    "TECH": N_("Videnskab og teknologi"),
    "REGI": N_("Regioner og byer"),
    "JUST": N_("Retsvæsen og offentlig sikkerhed"),
}

# The EHDS categories of electronic health data for secondary use (Art. 51).
HEALTH_CATEGORIES = {
    "EHR": N_("Elektroniske patientjournaler"),
    "REGISTRY": N_("Sundhedsregistre"),
    "CLAIMS": N_("Data om ydelser og refusion"),
    "GENOMICS": N_("Genetiske og genomiske data"),
    "WELLNESS": N_("Data fra wellness-apps og medicinsk udstyr"),
    "TRIALS": N_("Kliniske forsøg og undersøgelser"),
    "DETERMINANTS": N_("Sundhedsdeterminanter"),
    "ADMINISTRATIVE": N_("Administrative sundhedsdata"),
    "CARE": N_("Pleje- og omsorgsdata"),
    "BIOBANK": N_("Biobanker"),
}

ACCESS_RIGHTS_LABELS = {
    "PUBLIC": N_("Offentlig"),
    "RESTRICTED": N_("Begrænset"),
    "NON_PUBLIC": N_("Ikke-offentlig"),
}

LEVEL_LABELS = {
    "national": N_("National"),
    "regional": N_("Regional"),
    "municipal": N_("Kommunal"),
}

SEX_CODES = ("male", "female", "M", "K", "F")

# Danish municipality codes (Danmarks Statistik), and the five regions.
MUNICIPALITY_CODES = frozenset((
    "101", "147", "151", "153", "155", "157", "159", "161", "163", "165", "167", "169", "173",
    "175", "183", "185", "187", "190", "201", "210", "217", "219", "223", "230", "240", "250",
    "253", "259", "260", "265", "269", "270", "306", "316", "320", "326", "329", "330", "336",
    "340", "350", "360", "370", "376", "390", "400", "410", "411", "420", "430", "440", "450",
    "461", "479", "480", "482", "492", "510", "530", "540", "550", "561", "563", "573", "575",
    "580", "607", "615", "621", "630", "657", "661", "665", "671", "706", "707", "710", "727",
    "730", "740", "741", "746", "751", "756", "760", "766", "773", "779", "787", "791", "810",
    "813", "820", "825", "840", "846", "849", "851", "860",
))
REGION_CODES = frozenset({"1081", "1082", "1083", "1084", "1085"})

# What the codes of a descriptor mean, for people: Danish source text, translated where shown.
DUO_LABELS = {
    "NRES": N_("Ingen begrænsning"),
    "GRU": N_("Generel forskning"),
    "HMB": N_("Sundheds-, medicinsk og biomedicinsk forskning"),
    "DS": N_("Sygdomsspecifik forskning"),
    "POA": N_("Forskning i befolkningers oprindelse"),
    "NCU": N_("Kun ikke-kommerciel brug"),
    "NPU": N_("Kun almennyttige organisationer"),
    "NPUNCU": N_("Kun ikke-kommerciel brug i almennyttige organisationer"),
    "NPOA": N_("Ingen forskning i befolkningers oprindelse"),
    "GS": N_("Geografisk begrænset"),
    "IS": N_("Kun bestemte institutioner"),
    "US": N_("Kun bestemte brugere"),
    "PS": N_("Kun et bestemt projekt"),
    "TS": N_("Tidsbegrænset brug (måneder)"),
    "MOR": N_("Offentliggørelse først efter en dato"),
    "IRB": N_("Kræver etisk godkendelse"),
    "COL": N_("Kræver samarbejde med dataholderen"),
    "PUB": N_("Resultater skal offentliggøres"),
    "RTN": N_("Resultater skal leveres tilbage til dataholderen"),
}
COLUMN_TYPE_LABELS = {
    "string": N_("tekst"), "integer": N_("heltal"), "number": N_("tal"), "date": N_("dato"),
    "category": N_("kategori"),
}
IDENTIFIER_KIND_LABELS = {
    "cpr": N_("CPR-nummer"), "name": N_("navn"), "address": N_("adresse"),
    "phone": N_("telefonnummer"), "email": N_("e-mailadresse"), "free_text": N_("fritekst"),
}
CODE_SYSTEM_LABELS = {
    "icd10": N_("ICD-10-diagnosekoder"), "sex": N_("køn"), "municipality": N_("kommunekoder"),
    "postcode": N_("postnumre"),
}
GENERALISATION_LABELS = {
    "age_band": N_("alder i grupper på {width} år"),
    "date:year": N_("dato til år"), "date:quarter": N_("dato til kvartal"),
    "date:month": N_("dato til måned"), "date:week": N_("dato til uge"),
    "date:shift": N_("dato forskudt tilfældigt op til {max_days} dage"),
    "postcode:municipality": N_("postnummer til kommune"),
    "postcode:region": N_("postnummer til region"),
    "truncate": N_("afkortet til {chars} tegn"),
}

# Names of the codes above, for people. Municipality names are proper names in both languages.
MUNICIPALITY_NAMES = {
    "101": "København", "147": "Frederiksberg", "151": "Ballerup", "153": "Brøndby",
    "155": "Dragør", "157": "Gentofte", "159": "Gladsaxe", "161": "Glostrup", "163": "Herlev",
    "165": "Albertslund", "167": "Hvidovre", "169": "Høje-Taastrup", "173": "Lyngby-Taarbæk",
    "175": "Rødovre", "183": "Ishøj", "185": "Tårnby", "187": "Vallensbæk", "190": "Furesø",
    "201": "Allerød", "210": "Fredensborg", "217": "Helsingør", "219": "Hillerød",
    "223": "Hørsholm", "230": "Rudersdal", "240": "Egedal", "250": "Frederikssund",
    "253": "Greve", "259": "Køge", "260": "Halsnæs", "265": "Roskilde", "269": "Solrød",
    "270": "Gribskov", "306": "Odsherred", "316": "Holbæk", "320": "Faxe", "326": "Kalundborg",
    "329": "Ringsted", "330": "Slagelse", "336": "Stevns", "340": "Sorø", "350": "Lejre",
    "360": "Lolland", "370": "Næstved", "376": "Guldborgsund", "390": "Vordingborg",
    "400": "Bornholm", "410": "Middelfart", "411": "Christiansø", "420": "Assens",
    "430": "Faaborg-Midtfyn", "440": "Kerteminde", "450": "Nyborg", "461": "Odense",
    "479": "Svendborg", "480": "Nordfyns", "482": "Langeland", "492": "Ærø", "510": "Haderslev",
    "530": "Billund", "540": "Sønderborg", "550": "Tønder", "561": "Esbjerg", "563": "Fanø",
    "573": "Varde", "575": "Vejen", "580": "Aabenraa", "607": "Fredericia", "615": "Horsens",
    "621": "Kolding", "630": "Vejle", "657": "Herning", "661": "Holstebro", "665": "Lemvig",
    "671": "Struer", "706": "Syddjurs", "707": "Norddjurs", "710": "Favrskov", "727": "Odder",
    "730": "Randers", "740": "Silkeborg", "741": "Samsø", "746": "Skanderborg", "751": "Aarhus",
    "756": "Ikast-Brande", "760": "Ringkøbing-Skjern", "766": "Hedensted", "773": "Morsø",
    "779": "Skive", "787": "Thisted", "791": "Viborg", "810": "Brønderslev",
    "813": "Frederikshavn", "820": "Vesthimmerlands", "825": "Læsø", "840": "Rebild",
    "846": "Mariagerfjord", "849": "Jammerbugt", "851": "Aalborg", "860": "Hjørring",
}
REGION_NAMES = {
    "1081": N_("Region Nordjylland"), "1082": N_("Region Midtjylland"),
    "1083": N_("Region Syddanmark"), "1084": N_("Region Hovedstaden"),
    "1085": N_("Region Sjælland"),
}
