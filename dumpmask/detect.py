"""Finding personal data in a dump by itself: from column names and from sampled content.

Pure functions, no I/O. Two independent signals:

* `detect_by_name(column_name, column=None, table_name=None)`: the column name is split into
  tokens (`normalise`) and matched, token-wise (never substrings: `pin` does not match
  `shipping`), against a vocabulary of HIPAA Safe Harbor identifiers, PCI DSS cardholder data,
  GDPR personal data and credentials. Tuned for few false positives: a bare `name`/`title` is a
  person's name only on a table whose head noun is a person (customer, actor, staff...);
  `*_id` foreign keys (`address_id`, `customer_id`) are not personal data by name; only dates
  that describe a person (birth, death, admission, discharge, service/visit, appointment) are
  HIPAA-3 by name, never system timestamps (`created_at`, `last_update`, `rental_date`...);
  free text (`description`, `notes`, `comment`) is not detected by name.
* `ContentSampler`: keeps up to N non-null values per column and reports the share of them that
  look like e-mails, Luhn-valid card numbers, US SSNs, phone numbers, IPs, IBANs, MAC addresses,
  URLs or birth dates.

`combine` merges both into one `Finding`; `suggest_rule` turns a finding into a rules-file
column mutation that fits the column's type; `TEMPLATES`/`in_template` say which findings a
compliance template (`hipaa`, `pci`, `gdpr`, `all`) requires to be masked. The categories,
their frameworks and checklist items are dumpmask.categories's (the one vocabulary, which the
report's checklists read too).
"""
from __future__ import annotations

import datetime as _dt
import ipaddress
import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Iterable

from dumpmask import categories as vocabulary
from dumpmask.schema import Column, TableSchema
from dumpmask.lazy import lazy_pattern

__all__ = [
    "Finding", "normalise", "detect_by_name", "detect_table", "is_system_timestamp_name",
    "ContentSampler", "combine", "TEMPLATES", "CATEGORIES", "in_template", "suggest_rule",
    "match_value", "fit_rule", "valid_for", "injective_mutations", "is_secret_value", "secret_category",
    "REMAPPING_TEMPLATES", "related_categories",
]


# --------------------------------------------------------------------------- findings


@dataclass
class Finding:
    """One column found to hold personal data.

    category: the primary category, e.g. "HIPAA-6 email", "PCI PAN", "credential password".
    framework: "hipaa" | "pci" | "gdpr" | "credential" (of the primary category).
    evidence: "name", "content 97%" or "name+content 97%".
    suggested / suggested_options: a mutation spec for the rules file (see `suggest_rule`).
    also: further categories the same data falls under (a birth date is "GDPR date of birth"
        and "HIPAA-3 date"; a card number is "PCI PAN" and "HIPAA-10 account number").
    review: a person should look at it (photos, ambiguous `title` columns...).
    share: content evidence, the fraction of sampled non-null values that matched.
    """

    category: str
    framework: str
    evidence: str
    suggested: str
    suggested_options: dict = field(default_factory=dict)
    also: tuple[str, ...] = ()
    review: bool = False
    share: float | None = None
    key: str | None = None   # set when the column is a key: "primary key", "foreign key to t(c)"...
    raw_suggested: str | None = None  # the category's own mutation, before fitting it to the type

    @property
    def categories(self) -> tuple[str, ...]:
        return (self.category, *self.also)


# --------------------------------------------------------------------------- normalise


def normalise(name: str) -> list[str]:
    """Lower-case tokens of an identifier: snake_case, kebab-case, camelCase, PascalCase,
    acronyms and digits are all split. `customerEmail` -> [customer, email], `CCNumber` ->
    [cc, number], `phone2` -> [phone, 2], `IPv4Address` -> [ipv, 4, address]."""
    name = re.sub(r"(?<=[A-Z])v(?=\d)", "V", name)  # IPv4, IPv6: keep "ipv" together
    tokens: list[str] = []
    for part in re.split(r"[\W_]+", name):
        if not part:
            continue
        cur = part[0]
        for i in range(1, len(part)):
            p, c = part[i - 1], part[i]
            nxt = part[i + 1] if i + 1 < len(part) else ""
            boundary = (
                (p.isdigit() != c.isdigit())
                or (p.islower() and c.isupper())
                or (p.isupper() and c.isupper() and nxt.islower())
            )
            if boundary:
                tokens.append(cur.lower())
                cur = c
            else:
                cur += c
        tokens.append(cur.lower())
    return tokens


# --------------------------------------------------------------------------- name rules

_TEXT = frozenset({"text", "other", "array", "json", "enum", "binary", "uuid"})
_NUM = frozenset({"int", "numeric", "float"})
_DATE = frozenset({"date", "timestamp", "year", "text", "other", "int"})
_KINDS = {
    "text": _TEXT,
    "textnum": _TEXT | _NUM,
    "date": _DATE,
    "num": _NUM | {"text", "other"},
    "any": _TEXT | _NUM | {"bool", "bit"},
    "secret": frozenset({"text", "other", "array", "json", "binary", "uuid"}),  # never enum/bool/int
}


@dataclass(frozen=True)
class _Rule:
    category: str
    suggested: str
    kinds: str = "text"            # key of _KINDS: column kinds this data can be stored in
    temporal: bool = False         # a date rule: time words around it are fine
    needs_card: bool = False       # only with card context (column or table tokens)
    also: tuple[str, ...] = ()
    review: bool = False
    unless: frozenset = frozenset()  # rule-specific tokens that cancel it
    people_table: bool = False     # only on a table whose head noun names people


_RULES: dict[str, _Rule] = {}


_FOLD = str.maketrans({"ß": "ss", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ı": "i", "þ": "th"})


def fold(token: str) -> str:
    """A lower-case token without its accents, as the vocabulary spells it: prénom -> prenom,
    teléfono -> telefono, straße -> strasse, hasło -> haslo (other scripts: marks dropped only)."""
    if token.isascii():
        return token
    token = unicodedata.normalize("NFKD", token.translate(_FOLD))
    return "".join(c for c in token if not unicodedata.combining(c))


def _add(keywords: str, rule: _Rule) -> None:
    for k in keywords.split():
        _RULES[fold(k)] = rule


_N = "HIPAA-1 name"
_add("firstname fname givenname forename middlename nickname", _Rule(_N, "faker.firstName"))
_add("lastname lname surname familyname maidenname", _Rule(_N, "faker.lastName"))
_add("fullname legalname personname patientname", _Rule(_N, "faker.name"))

# the same in the languages schemas are most often written in besides English (Spanish,
# Portuguese, French, German, Italian, Dutch, Polish, Swedish, Russian, Chinese, Japanese;
# accents folded: prénom = prenom). Words that mean something else in another language are
# left out or need a people table (French `nom`, Spanish `nombre`: see detect_by_name)
_add("prenom vorname nombrepila primernombre segundonombre voornaam imie fornamn imya имя 下の名前",
     _Rule(_N, "faker.firstName"))
_add("apellido apellidos primerapellido segundoapellido sobrenome apelido nomdefamille nomfamille nachname "
     "familienname zuname cognome achternaam familienaam nazwisko efternamn familiya фамилия отчество otchestvo "
     "姓 苗字", _Rule(_N, "faker.lastName"))
_add("nombrecompleto nomecompleto nomcomplet vollername vollstaendigername nomecognome volledigenaam "
     "imienazwisko fullstandigtnamn fio фио 姓名 名字 氏名 名前 お名前", _Rule(_N, "faker.name"))

_G = "HIPAA-2 geographic"
_add("address addr addressline streetaddress street homeaddress mailingaddress", _Rule(_G, "faker.address"))
_add("city town district county suburb borough neighborhood neighbourhood municipality village "
     "birthplace placeofbirth", _Rule(_G, "faker.city"))
_add("zip zipcode postcode postalcode postal plz", _Rule(_G, "faker.postcode", "textnum"))
_add("lat lng lon latitude longitude geo geolocation geopoint location coordinates coords latlng "
     "latlon latlong gps", _Rule("GDPR geolocation", "redact", "textnum", also=(_G,)))

_add("direccion domicilio endereco morada logradouro adresse anschrift strasse hausnummer indirizzo adres "
     "straat huisnummer ulica adress gatuadress calle rua адрес 住所 地址",
     _Rule(_G, "faker.address"))
_add("ciudad localidad municipio cidade ville commune stadt wohnort citta comune woonplaats plaats gemeente "
     "miasto miejscowosc ort postort город 市区町村 城市 lieunaissance lugarnacimiento geburtsort luogonascita",
     _Rule(_G, "faker.city"))
_add("codigopostal codpostal cep codepostal postleitzahl postnummer kodpocztowy почтовыйиндекс 郵便番号 邮编 邮政编码",
     _Rule(_G, "faker.postcode", "textnum"))

_D = "HIPAA-3 date"
_TIME_WORDS = frozenset({"date", "time", "dt", "at", "on", "timestamp", "datetime", "ts", "day",
                         "when", "utc", "local", "actual", "of"})
_add("dob birthdate dateofbirth birthday birth born birthdt",
     _Rule("GDPR date of birth", "faker.date", "date", temporal=True, also=(_D,)))
_add("fechanacimiento fechadenacimiento nacimiento datanascimento datadenascimento nascimento "
     "datenaissance datedenaissance naissance geburtsdatum geburtstag datadinascita nascita geboortedatum "
     "dataurodzenia urodzenia fodelsedatum fodelsedag датарождения 生年月日 出生日期 生日",
     _Rule("GDPR date of birth", "faker.date", "date", temporal=True, also=(_D,)))
_add("birthyear yearofbirth", _Rule("GDPR date of birth", "keep", "date", temporal=True, also=(_D,)))
_add("deathdate dateofdeath death died deceased admissiondate admission admitted admit admitdate "
     "dischargedate discharge discharged servicedate dateofservice visitdate visit visited "
     "encounterdate appointment appointmentdate", _Rule(_D, "faker.date", "date", temporal=True))

_add("phone phonenumber phoneno phonenum telephone tel telno mobile mobilephone mobilenumber "
     "cellphone cellnumber cellno cellphonenumber cellular msisdn contactnumber whatsapp phones "
     "phonenumbers telephones mobiles",
     _Rule("HIPAA-4 phone", "faker.phone", "textnum"))
# a bare `cell` is a phone only on a table of people (patients.cell, not grid.cell)
_add("cell", _Rule("HIPAA-4 phone", "faker.phone", "textnum", people_table=True))
_add("telefono telefonos telefone telephone telefon telefonnummer telefoonnummer numerotelefono "
     "numerodetelefono movil celular cellulare mobiel mobilnummer komorka mobilnr телефон 電話 電話番号 电话 手机",
     _Rule("HIPAA-4 phone", "faker.phone", "textnum"))
_add("fax faxnumber faxno", _Rule("HIPAA-5 fax", "faker.phone", "textnum"))
_add("email emailaddress emailaddr emails emailaddresses mail correo correoelectronico courriel emailadres "
     "epost eposta epostadress почта メール メールアドレス 邮箱 电子邮件", _Rule("HIPAA-6 email", "faker.email"))
_add("ssn socialsecurity socialsecuritynumber socialsecurityno",
     _Rule("HIPAA-7 SSN", "faker.ssn", "textnum", also=("GDPR national id",)))
_add("mrn medicalrecord medicalrecordnumber medicalrecordno patientnumber patientno chartnumber "
     "patientid mrnid medicalrecordid chartid chartno",
     _Rule("HIPAA-8 medical record number", "hash", "textnum"))
_add("healthplan healthplannumber beneficiary beneficiarynumber insurancenumber policynumber "
     "memberno membernumber memberid insuranceid insuranceno insurancenum subscriberid subscribernumber "
     "subscriberno beneficiaryid healthplanid policyid policyno planmemberid groupnumber", _Rule("HIPAA-9 health plan beneficiary number", "hash", "textnum"))
_add("accountnumber accountno accountnum acct acctno acctnumber bankaccount bankaccountnumber "
     "accountid acctid bankaccountid",
     _Rule("HIPAA-10 account number", "hash", "textnum"))
_add("licensenumber licencenumber licenseno licenceno driverslicense driverlicense driverslicence "
     "driverlicence certificate certificatenumber certificateno certno licenseid licenceid "
     "driverslicenseid driverlicenseid licensenum licencenum deanumber",
     _Rule("HIPAA-11 certificate/license number", "hash", "textnum"))
_add("vin licenseplate licenceplate plate platenumber numberplate vehicleid",
     _Rule("HIPAA-12 vehicle identifier", "hash", "textnum"))
_add("deviceid serialnumber serialno serial imei udid macaddress macaddr mac",
     _Rule("HIPAA-13 device identifier", "hash", "textnum"))
_add("url website homepage webpage weburl", _Rule("HIPAA-14 URL", "faker.url"))
_add("ip ipaddress ipaddr ipv4 ipv4address remoteaddr remoteip clientip",
     _Rule("HIPAA-15 IP address", "faker.ipv4", "textnum"))
_add("ipv6 ipv6address ipv6addr", _Rule("HIPAA-15 IP address", "faker.ipv6", "textnum"))
_add("fingerprint biometric biometrics retina iris voice voiceprint faceprint",
     _Rule("HIPAA-16 biometric", "null", "text", review=True))
_add("photo photograph picture avatar image headshot portrait selfie",
     _Rule("HIPAA-17 photo", "null", "text", review=True))
_add("customernumber customerno employeenumber employeeno studentnumber studentno badgenumber "
     "badgeno", _Rule("HIPAA-18 unique identifier", "hash", "textnum"))

_add("pan cardnumber cardno cardnum ccnumber ccnum ccno creditcard creditcardnumber "
     "creditcardno debitcard primaryaccountnumber",
     _Rule("PCI PAN", "faker.creditCard", "textnum", also=("HIPAA-10 account number",)))
_add("cvv cvc cvv2 cvc2 cid2 securitycode cardsecuritycode cardverification",
     _Rule("PCI CVV", "redact", "textnum"))
_add("cardexp cardexpiry cardexpiration cardexpdate ccexp ccexpiry ccexpdate",
     _Rule("PCI expiry", "redact", "date", temporal=True))
_add("expiry expirydate expdate expmonth expyear expiration expirationdate expirationmonth "
     "expirationyear", _Rule("PCI expiry", "redact", "date", temporal=True, needs_card=True))
_add("cardholder cardholdername nameoncard holdername cardname",
     _Rule("PCI cardholder name", "faker.name", also=(_N,)))
_add("pin pinblock pinnumber pincode", _Rule("PCI PIN", "redact", "textnum"))

_add("gender sex sexo genero geschlecht sesso geslacht plec kon пол 性別 性别", _Rule("GDPR gender", "keep", "any"))
_add("nationalid nationalidnumber nino nin idnumber identitynumber personalnumber "
     "personnummer nationalinsurance nationalinsurancenumber nationalinsuranceno nif nie codicefiscale "
     "cpf cnp aadhaar aadhar aadhaarnumber pesel bsn bsnnumber dni nir insee personalid personalidnumber "
     "identitycard idcard idcardnumber nationalidentifier nationalidentitynumber socialinsurancenumber sin "
     "curp rut rfc steuerid steueridentifikationsnummer hetu cnic nric mykad pps ppsn "
     "citizenid citizenshipnumber residentid residencepermit nss numeroseguridadsocial securitesociale numerosecu "
     "sozialversicherungsnummer svnr burgerservicenummer 身份证 身份证号 マイナンバー",
     _Rule("GDPR national id", "hash", "textnum", also=("HIPAA-18 unique identifier",)))
_add("taxid tin taxnumber taxno taxpayerid taxidentificationnumber taxidnumber taxpayernumber "
     "taxpayeridentificationnumber taxcode taxregistrationnumber vatnumber vatno vatid vatin "
     "vatregistrationnumber ein itin utr ustid ustidnr abn gstin gstnumber", _Rule("GDPR tax id", "hash", "textnum",
                                                    also=("HIPAA-18 unique identifier",)))
_add("passport passportnumber passportno passportid", _Rule("GDPR passport", "hash", "textnum",
                                                             also=("HIPAA-18 unique identifier",)))
_add("iban", _Rule("GDPR IBAN", "faker.iban", "textnum", also=("HIPAA-10 account number",)))
_add("salary income wage wages compensation salario sueldo salaire gehalt stipendio salaris pensja "
     "зарплата 給与 工资", _Rule("GDPR salary", "redact", "num"))

_add("password passwd pwd passwordhash passwdhash pwdhash passhash passphrase passcode "
     "passworddigest encryptedpassword hashedpassword cryptedpassword contrasena senha motdepasse passwort "
     "kennwort wachtwoord haslo losenord пароль パスワード 密码",
     _Rule("credential password", "hash", "secret"))
# connection strings carry their password (postgres://user:pw@host, host=... password=...)
_add("dsn connectionstring connstring connstr connectionuri connectionurl jdbcurl databaseurl dburl "
     "databaseuri dburi redisurl amqpurl brokerurl mongouri mongodburi sqlalchemyurl",
     _Rule("credential password", "hash", "secret"))

# secrets: the keys to the application itself (credentials are in every template)
_NOT_A_SECRET = frozenset({"frequency", "interval", "schedule", "name", "names", "label", "title",
                           "description", "hint", "question", "prefix", "last", "scopes", "scope",
                           "url", "uri", "endpoint", "version", "algorithm", "alg", "id", "ids",
                           "strategy", "owner", "generated", "expires", "expiry", "expiration",
                           "rotated", "revoked", "used", "usage", "reference", "ref", "path", "file",
                           "fingerprint", "sent", "requested", "issued", "claimed", "limit", "ttl"})
_CT, _CK, _CP, _CS, _CD = ("credential token", "credential api key", "credential private key",
                           "credential secret", "credential digest")
_add("token tokens accesstoken refreshtoken authtoken authenticationtoken sessiontoken bearertoken "
     "idtoken apitoken csrftoken xsrftoken remembertoken remembermetoken rememberme confirmationtoken "
     "unlocktoken resettoken resetpasswordtoken passwordresettoken invitationtoken invitetoken "
     "verificationtoken activationtoken magictoken logintoken feedtoken incomingemailtoken "
     "runnerstoken registrationtoken deploytoken triggertoken webhooktoken pushtoken devicetoken "
     "oauthtoken oauthsecret oauthtokensecret authenticitytoken singleaccesstoken perishabletoken "
     "persistencetoken calendartoken rsstoken",
     _Rule(_CT, "hash", "secret", unless=_NOT_A_SECRET))
_add("apikey apikeys apisecret apisecretkey accesskey accesskeyid secretaccesskey secretkey "
     "clientsecret consumersecret consumerkey appsecret applicationsecret licensekey masterkey "
     "encryptionkey stripekey", _Rule(_CK, "hash", "secret", unless=_NOT_A_SECRET))
_add("privatekey privkey sshkey sshprivatekey rsakey pem pemkey signingkey gpgkey pgpkey keypair "
     "secretkeybase", _Rule(_CP, "hash", "secret", unless=_NOT_A_SECRET))
_add("secret secrets sharedsecret webhooksecret signingsecret otp otps otpsecret totp totpsecret "
     "mfasecret twofactorsecret tfasecret otpseed totpseed otpbackupcodes backupcodes recoverycodes "
     "salt passwordsalt hmackey hmacsecret credential credentials",
     _Rule(_CS, "hash", "secret", unless=_NOT_A_SECRET))
_add("digest tokendigest keydigest secretdigest encryptedtoken hashedtoken tokenhash",
     _Rule(_CD, "hash", "secret", unless=_NOT_A_SECRET | {"email", "mail", "newsletter", "weekly",
                                                          "daily", "enabled"}))
_add("username login loginname userlogin loginid",
     _Rule("credential username", "faker.userName", "text",
           unless=frozenset({"last", "first", "count", "attempts", "failed"})))

# tokens meaning "this column is about the data, not the data itself" (e.g. email_verified)
_META_WORDS = frozenset({
    "count", "type", "types", "status", "flag", "verified", "confirmed", "enabled", "disabled",
    "attempts", "format", "policy", "template", "is", "has", "allowed", "required", "visible",
    "public", "preference", "preferences", "optin", "consent", "length", "len", "max", "min",
    "changed", "valid", "validated", "opt", "provider", "kind", "category",
    # the same in other languages (accents folded)
    "verificado", "verificada", "confirmado", "confirmada", "valido", "tipo", "estado", "cantidad",
    "verifie", "verifiee", "confirme", "statut", "verifiziert", "bestatigt", "typ", "anzahl",
    "verificato", "confermato", "geverifieerd", "bevestigd", "aantal",
})
# outside a date rule's own keyword these make it a non-date or a time-of-event column
_NOT_A_DATE_VALUE = frozenset({
    "notes", "note", "comment", "comments", "description", "desc", "reason", "cause", "place",
    "location", "country", "state", "city", "number", "no", "code", "summary", "details",
    "detail", "text", "name", "weight", "order", "rank",
})
_TIME_TOKENS = frozenset({"date", "time", "timestamp", "datetime", "at", "on", "ts", "expiry",
                          "expires", "expiration", "until", "since", "dt", "fecha", "datum", "hora"})
_CARD_WORDS = frozenset({"card", "cards", "cc", "credit", "debit", "payment", "payments", "billing",
                         "wallet", "pan"})
_ID_WORDS = frozenset({"id", "ids", "fk"})

# a person, as the head noun of a table name or the qualifier of `*_name`
PEOPLE_WORDS = frozenset({
    "customer", "user", "person", "people", "staff", "employee", "patient", "member", "contact",
    "client", "account", "author", "actor", "owner", "holder", "manager", "doctor", "physician",
    "nurse", "student", "teacher", "guest", "buyer", "seller", "recipient", "sender",
    "passenger", "driver", "applicant", "candidate", "subscriber", "parent", "guardian", "spouse",
    "insured", "signer", "tenant", "resident", "visitor", "volunteer", "donor", "player",
    "profile", "traveler", "traveller", "worker", "instructor", "professor", "practitioner",
    "dentist", "therapist", "caregiver", "relative", "kin", "witness", "father", "mother",
    "director", "writer", "artist", "musician", "speaker", "attendee", "participant", "lead",
    "prospect", "beneficiary", "emergency", "billing", "shipping", "legal", "real",
    "individual", "citizen", "voter", "pupil", "learner", "agent", "representative", "rep",
    # the same in other languages (accents folded; plurals: see _singular)
    "cliente", "usuario", "paciente", "empleado", "persona", "alumno", "estudiante", "socio", "contacto",
    "pessoa", "utilizador", "funcionario", "aluno", "utente", "dipendente", "studente",
    "utilisateur", "employe", "personne", "adherent", "eleve", "salarie", "kunde", "kunden", "benutzer",
    "nutzer", "mitarbeiter", "mitglied", "mitglieder", "schuler", "klant", "klanten", "gebruiker",
    "medewerker", "leerling", "klient", "uzytkownik", "pracownik", "pacjent", "osoba", "kund", "anvandare",
    "anstalld", "kunder", "клиент", "клиенты", "пользователь", "пользователи", "сотрудник", "сотрудники",
    "пациент", "пациенты", "顧客", "会員", "社員", "患者",
    "客户", "用户", "员工",
})
# "name" where the head noun comes first (French nom: the family name); Swedish namn
_NAME_WORDS = frozenset({"nombre", "nombres", "nome", "nomi", "nom", "naam", "namn", "imie"})
_CONNECTORS = frozenset({"de", "del", "da", "do", "du", "des", "di", "dei", "della", "van", "der", "den"})
# people nouns a table name starts with in those languages (clientes_activos, pacientes_2024)
_HEAD_FIRST_PEOPLE = frozenset({"cliente", "usuario", "paciente", "empleado", "persona", "alumno", "pessoa",
                                "utilizador", "funcionario", "utente", "dipendente", "utilisateur", "employe",
                                "personne", "adherent", "klant", "gebruiker", "medewerker", "pacjent", "klient"})
_PEOPLE_TABLE_SKIP = frozenset({"tbl", "table", "t", "data", "info", "details", "list", "v",
                                "view", "tmp", "temp", "bak", "backup", "old", "new", "archive"})


def _singular(tok: str) -> str:
    if tok == "people":
        return tok
    if tok.endswith("ies") and len(tok) > 4:
        return tok[:-3] + "y"
    if tok.endswith("s") and not tok.endswith("ss") and len(tok) > 3:
        return tok[:-1]
    return tok


def is_people_table(table_name: str | None) -> bool:
    """True when the table's head noun (last word, ignoring digits and tbl/list/backup-style
    affixes; `schema.` prefix dropped) names people: customer(s), staff, film_actor, patients."""
    if not table_name:
        return False
    toks = [fold(t) for t in normalise(table_name.rsplit(".", 1)[-1]) if not t.isdigit()]
    toks = [t for t in toks if t not in _PEOPLE_TABLE_SKIP] or toks
    return bool(toks) and (_singular(toks[-1]) in PEOPLE_WORDS or _singular(toks[0]) in _HEAD_FIRST_PEOPLE)


# system-timestamp vocabulary: dates no one would call personal by their name
_SYSTEM_TS_WORDS = frozenset({
    "created", "create", "creation", "updated", "update", "modified", "modify", "modification",
    "deleted", "delete", "inserted", "insert", "changed", "change", "published", "publish",
    "posted", "sent", "received", "processed", "rental", "return", "returned", "payment",
    "paid", "order", "ordered", "shipped", "shipping", "delivered", "expires", "expiry",
    "expiration", "timestamp", "ts", "logged", "login", "logout", "release", "start", "end",
    "due", "valid", "effective", "last", "synced", "sync", "imported", "loaded", "etl", "version",
    "issued", "invoice", "scheduled", "completed", "closed", "opened", "accessed", "seen",
    "started", "ended", "finished", "transaction", "booking", "purchase", "registered",
})


def is_system_timestamp_name(column_name: str) -> bool:
    """True for names like last_update, created_at, updatedAt, rental_date, payment_date,
    create_date: commonly timestamps a system writes, never flagged as birth dates by content."""
    toks = set(normalise(column_name))
    return bool(toks & _SYSTEM_TS_WORDS)


def _span_matches(tokens: list[str]) -> list[tuple[int, int, int, str, _Rule]]:
    out = []
    n = len(tokens)
    for i in range(n):
        joined = ""
        for j in range(i, min(n, i + 5)):
            joined += tokens[j]
            rule = _RULES.get(joined)
            if rule is not None:
                out.append((len(joined), i, j, joined, rule))
    # most specific (longest keyword) first; then the later one (the head noun in English);
    # a bare address/addr loses to any other match: ipv6_address, work_email_addr, ssh_host_addr
    # (in any language: `e-mail адрес`, `correo_direccion` are e-mail addresses)
    out.sort(key=lambda m: (m[3] in ("address", "addr") or (m[1] == m[2] and m[4].category == _G
                                                            and m[4].suggested == "faker.address"), -m[0], -m[2]))
    return out


def _kind_ok(rule: _Rule, column: Column | None) -> bool:
    if column is None:
        return True
    return column.kind in _KINDS[rule.kinds]


def _finding_from_rule(rule: _Rule, column: Column | None, evidence: str = "name",
                       category: str | None = None, suggested: str | None = None,
                       review: bool | None = None) -> Finding:
    cat = category or rule.category
    f = Finding(category=cat, framework=vocabulary.framework(cat), evidence=evidence,
                suggested=suggested or rule.suggested,
                suggested_options={"preserveYear": True} if (suggested or rule.suggested) == "faker.date" else {},
                also=rule.also, review=rule.review if review is None else review)
    f.raw_suggested = f.suggested
    if column is not None:
        rule_ = suggest_rule(f, column)
        f.suggested, f.suggested_options = rule_["mutation"], rule_.get("options", {})
    return f


def detect_by_name(column_name: str, column: Column | None = None,
                   table_name: str | None = None) -> Finding | None:
    """A Finding when the column's name says it holds personal data, else None.

    `column` (optional) is used to drop matches the type cannot hold (a boolean
    `email_verified`, a timestamp `last_login`) and to fit the suggestion to the type.
    `table_name` (optional, may be schema-qualified) decides bare `name` / `title` columns:
    person names only on people tables (customer, staff, actor, patients...), so
    `category.name`, `language.name`, `film.title` are not findings.
    """
    tokens = [fold(t) for t in normalise(column_name)]
    if not tokens:
        return None
    if column is not None and column.kind == "bool":
        return None  # is_email, has_phone, sex boolean flags: no value to leak by name alone
    tokset = set(tokens)
    last = len(tokens) - 1
    table_tokens = {fold(t) for t in normalise(table_name)} if table_name else set()

    for _, i, j, _keyword, rule in _span_matches(tokens):
        outside = set(tokens[:i] + tokens[j + 1:])
        # address_id, customer_id, city_fk: a key into another table, not the value itself
        if tokens[last] in _ID_WORDS and j != last:
            continue
        if outside & _META_WORDS or outside & rule.unless:
            continue
        if rule.temporal:
            if outside & _NOT_A_DATE_VALUE:
                continue
            if rule.needs_card and not ((tokset | table_tokens) & _CARD_WORDS):
                continue
        elif outside & _TIME_TOKENS:
            continue  # password_changed_at, email_sent_date: when something happened
        if rule.people_table and not is_people_table(table_name):
            continue
        if not _kind_ok(rule, column):
            continue
        if rule.kinds in ("textnum", "num") and rule.category == "GDPR geolocation" and column is not None \
                and column.kind == "int" and not _int_coordinates(tokens, column):
            continue  # location smallint, geo_id: a code, not a coordinate
        return _finding_from_rule(rule, column)

    secret = _secret_by_context(tokens, column, table_name)
    if secret is not None:
        return secret

    # customer_name, patient_name, contact_name (but not product_name, file_name)
    if tokens[last] in ("name", "names") and last >= 1 and tokens[last - 1] in PEOPLE_WORDS:
        rule = _Rule(_N, "faker.name")
        if _kind_ok(rule, column):
            return _finding_from_rule(rule, column)
    # customer_number, member_no: an identifying number of a person
    if tokens[last] in ("number", "no", "num", "nr") and last >= 1 and tokens[last - 1] in PEOPLE_WORDS:
        rule = _Rule("HIPAA-18 unique identifier", "hash", "textnum")
        if _kind_ok(rule, column):
            return _finding_from_rule(rule, column)
    # nombre, nome, nom, naam (name in languages that put the head noun first): a person's on a
    # people table or beside a people word (nombre_cliente, nome_do_paciente, nom_client)
    if tokset & _NAME_WORDS and tokset <= _NAME_WORDS | PEOPLE_WORDS | _CONNECTORS and (
            is_people_table(table_name) or tokset & PEOPLE_WORDS):
        rule = _Rule(_N, "faker.lastName" if tokset & _NAME_WORDS == {"nom"} else "faker.name")
        if _kind_ok(rule, column):
            return _finding_from_rule(rule, column)
    # a bare name / title: a person's only on a people table
    if tokens in (["name"], ["title"]) and is_people_table(table_name):
        rule = _Rule(_N, "faker.name")
        if _kind_ok(rule, column):
            if tokens == ["title"]:
                # Mr/Dr or a job title: personal, but faker.name would be wrong; a person decides
                return _finding_from_rule(rule, column, suggested="redact", review=True)
            return _finding_from_rule(rule, column)
    return None


_COORD_WORDS = frozenset({"lat", "lng", "lon", "latitude", "longitude", "latlng", "latlon", "latlong"})


def _int_coordinates(tokens: list[str], column: Column) -> bool:
    """An integer column holds coordinates only as scaled degrees (latitude_e7 integer): an
    explicit lat/long word and a type of at least 32 bits. `location smallint`, `geo integer`
    are codes."""
    return bool(set(tokens) & _COORD_WORDS) and column.int_max is not None and column.int_max >= (1 << 31) - 1


# tables of credentials: their bare value/key/hash column is the secret (api_keys.value)
_CRED_TABLE_WORDS = frozenset({"api", "apikey", "access", "secret", "secrets", "ssh", "gpg", "pgp",
                               "signing", "private", "deploy", "auth", "oauth", "token", "tokens",
                               "credential", "credentials", "webhook", "webhooks", "encryption", "otp",
                               "totp", "mfa", "session", "sessions"})
_CRED_TABLE_HEADS = frozenset({"token", "secret", "credential", "apikey", "key"})
_CRED_BARE_COLUMNS = frozenset({"value", "key", "hash", "digest", "plaintext", "ciphertext", "material",
                                "token", "secret", "encrypted", "raw", "sealed"})
_ENCRYPTED_PREFIX = frozenset({"encrypted", "crypted", "enc", "hashed", "sealed"})


def _secret_by_context(tokens: list[str], column: Column | None, table_name: str | None) -> Finding | None:
    """Secrets a keyword alone does not name: `encrypted_*` columns, and the bare value/key/hash
    column of a table of credentials (api_keys.value, signing_keys.key, tokens.hash)."""
    if column is not None and column.kind not in _KINDS["secret"]:
        return None
    if tokens[-1] in _ID_WORDS or set(tokens) & (_META_WORDS | _TIME_TOKENS | _NOT_A_SECRET):
        return None
    rule = _Rule("credential secret", "hash", "secret")
    if len(tokens) > 1 and tokens[0] in _ENCRYPTED_PREFIX:
        return _finding_from_rule(rule, column)
    if table_name and len(tokens) == 1 and tokens[0] in _CRED_BARE_COLUMNS:
        tt = [t for t in normalise(table_name.rsplit(".", 1)[-1]) if not t.isdigit()]
        tt = [t for t in tt if t not in _PEOPLE_TABLE_SKIP] or tt
        if not tt:
            return None
        head = _singular(tt[-1])
        joined = "".join(tt[-2:])
        if head in ("token", "secret", "credential") or _singular(joined) == "apikey" \
                or (head == "key" and set(tt[:-1]) & _CRED_TABLE_WORDS):
            cat = "credential api key" if head == "key" or _singular(joined) == "apikey" else \
                ("credential token" if head == "token" else "credential secret")
            return _finding_from_rule(_Rule(cat, "hash", "secret"), column)
    return None


def detect_table(table: TableSchema) -> dict[str, Finding]:
    """detect_by_name over every column of a table: {column name: Finding}."""
    out = {}
    for c in table.columns:
        f = detect_by_name(c.name, c, table.name)
        if f is not None:
            out[c.name] = f
    return out


# --------------------------------------------------------------------------- content

_EMAIL_RE = lazy_pattern(globals(), "_EMAIL_RE", r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$")
_CARD_RE = lazy_pattern(globals(), "_CARD_RE", r"^\d(?:[ -]?\d){12,18}$")
_SSN_RE = lazy_pattern(globals(), "_SSN_RE", r"^(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
_PHONE_CHARS_RE = lazy_pattern(globals(), "_PHONE_CHARS_RE", r"^\+?[\d\s().\-/]+(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?$", re.I)
_PHONE_EXT_RE = lazy_pattern(globals(), "_PHONE_EXT_RE", r"\s*(?:x|ext\.?|extension)\s*\d{1,6}$", re.I)
_DATE_LIKE_RE = lazy_pattern(globals(), "_DATE_LIKE_RE", r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?:[ T].*)?$")
_ZIP4_RE = lazy_pattern(globals(), "_ZIP4_RE", r"^\d{5}-\d{4}$")  # US ZIP+4 (a postcode, not a phone)
_BARE_DIGITS_RE = lazy_pattern(globals(), "_BARE_DIGITS_RE", r"^\d{10,15}$")
_IBAN_RE = lazy_pattern(globals(), "_IBAN_RE", r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_MAC_RE = lazy_pattern(globals(), "_MAC_RE", r"^(?:[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}"
                     r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})$")
_URL_RE = lazy_pattern(globals(), "_URL_RE", r"^(?:https?://[^\s/$.?#][^\s]*|www\.[^\s.]+\.[^\s]+)$", re.I)
_ISO_DATE_RE = lazy_pattern(globals(), "_ISO_DATE_RE", r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$")
_DMY_RE = lazy_pattern(globals(), "_DMY_RE", r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_email(v: str) -> bool:
    return len(v) <= 254 and bool(_EMAIL_RE.match(v))


def _is_card(v: str) -> bool:
    if not _CARD_RE.match(v):
        return False
    d = re.sub(r"[ -]", "", v)
    return 13 <= len(d) <= 19 and len(set(d)) > 1 and _luhn(d)


def _is_ssn(v: str) -> bool:
    return bool(_SSN_RE.match(v))


def _is_numeric_timestamp(v: str) -> bool:
    """Bare digits that read as a time: YYYYMMDDhhmm[ss] (schema_migrations.version
    20240101120000) or Unix seconds / milliseconds of 2001..2033 (1xxxxxxxxx, 1xxxxxxxxxxxx: no
    national phone number without a country code starts with 1 at these lengths)."""
    n = len(v)
    if n in (12, 14):
        y, mo, d, h, mi = int(v[:4]), int(v[4:6]), int(v[6:8]), int(v[8:10]), int(v[10:12])
        sec = int(v[12:14]) if n == 14 else 0
        if 1900 <= y <= 2199 and 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and sec <= 60:
            return True
    if n in (10, 13) and v[0] == "1":
        return True
    return False


def _is_phone(v: str, text_column: bool) -> bool:
    if text_column and _BARE_DIGITS_RE.match(v):
        # 14033335568 in a varchar column: a phone number stored without separators
        return not _is_numeric_timestamp(v)
    if not _PHONE_CHARS_RE.match(v) or _DATE_LIKE_RE.match(v) or _ZIP4_RE.match(v):
        return False
    if v[0] in "-./":
        return False  # -1234567: a negative number
    core = _PHONE_EXT_RE.sub("", v)
    digits = sum(ch.isdigit() for ch in core)
    if not 7 <= digits <= 15:
        return False
    if core.startswith("+"):
        return True
    if core.count("(") != core.count(")"):
        return False
    # needs a separator that a number/id/price never has
    if re.search(r"[\s()\-/]", core):
        return True
    # dots only: 555.123.4567 style (three or more groups), not 12345.67
    return core.count(".") >= 2


def _ip_version(v: str) -> int | None:
    try:
        return ipaddress.ip_address(v).version
    except ValueError:
        pass
    if "/" in v:
        try:
            return ipaddress.ip_network(v, strict=False).version
        except ValueError:
            return None
    return None


def _is_iban(v: str) -> bool:
    s = v.replace(" ", "").upper()
    if not _IBAN_RE.match(s):
        return False
    r = s[4:] + s[:4]
    num = "".join(str(int(ch, 36)) for ch in r)
    return int(num) % 97 == 1


def _is_mac(v: str) -> bool:
    return bool(_MAC_RE.match(v))


def _is_url(v: str) -> bool:
    return bool(_URL_RE.match(v))


# secrets by content: well-known token formats (searched anywhere in the value: a JSON blob of
# integration settings counts), PEM private keys, JWTs, password hashes, and random-looking strings
_SECRET_SEARCH_RE = lazy_pattern(globals(), "_SECRET_SEARCH_RE", 
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"|(?<![A-Za-z0-9_])(?:"
    r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|gl(?:dt|rt|ptt|cbt|imt|agent|soat|ffct|oas)-[A-Za-z0-9_-]{20,}"
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{16,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}"
    r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}(?![A-Za-z0-9])"
    r"|AIza[A-Za-z0-9_-]{35}|ya29\.[A-Za-z0-9_-]{20,}"
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"
    r"|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_-]{50,}|dop_v1_[a-f0-9]{64}|hf_[A-Za-z0-9]{30,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r")")
_PASSWORD_HASH_RE = lazy_pattern(globals(), "_PASSWORD_HASH_RE", 
    r"^(?:\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}|\$argon2(?:id|i|d)\$\S{20,}|\$[156]\$[^$\s]{1,16}\$[./A-Za-z0-9]{20,}"
    r"|\$scrypt\$\S{20,}|(?:pbkdf2_sha256|pbkdf2_sha1|bcrypt_sha256|argon2|sha1|md5)\$\S{20,}"
    r"|\{(?:SSHA|SHA|SSHA256|SSHA512|CRYPT)\}\S{8,})$")
_RANDOM_RE = lazy_pattern(globals(), "_RANDOM_RE", r"^[A-Za-z0-9+/=_-]{20,512}$")
_UUID_RE = lazy_pattern(globals(), "_UUID_RE", r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


_LOWER_RUN_RE = lazy_pattern(globals(), "_LOWER_RUN_RE", r"[a-z]+")


def _entropy(v: str) -> float:
    counts: dict[str, int] = {}
    for ch in v:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(v)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _is_random_string(v: str) -> bool:
    """A random-looking token: 20+ characters of a base64/base58/base62 alphabet mixing upper-case
    letters, lower-case letters and digits or symbols, with short runs of lower-case letters
    (words and CamelCase identifiers have long ones) and a high Shannon entropy. Hex strings
    alone are not (checksums, commit SHAs, content hashes are not credentials by content; a
    `token_digest` is found by its name), nor are UUIDs."""
    if not _RANDOM_RE.match(v) or _UUID_RE.match(v):
        return False
    up = sum(ch.isupper() for ch in v)
    runs = _LOWER_RUN_RE.findall(v)
    lo = sum(len(r) for r in runs)
    other = len(v) - up - lo
    if up < 2 or lo < 2 or other < 1:
        return False
    if lo / len(runs) > 2.6:
        return False  # CustomerAccountNumber2020: words
    return _entropy(v) >= min(4.0, 0.8 * math.log2(len(v)))


#: a password inside a value: a URL's userinfo (scheme://user:password@host) or a key=value
#: connection string (libpq, JDBC, ADO.NET, ODBC: password=..., pwd=...)
_EMBEDDED_PASSWORD_RE = lazy_pattern(globals(), "_EMBEDDED_PASSWORD_RE", 
    r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@|(?:^|[\s;&?,])(?:password|passwd|pwd)\s*=\s*[^\s;&,]+",
    re.IGNORECASE)


def secret_category(v: str) -> str | None:
    """The credential category of a value by its content (see is_secret_value), else None."""
    v = v.strip()
    if len(v) <= 4096 and _EMBEDDED_PASSWORD_RE.search(v):
        return "credential password"
    if len(v) < 16:
        return None
    m = _SECRET_SEARCH_RE.search(v if len(v) <= 65536 else v[:65536])
    if m:
        return "credential private key" if m.group().startswith("-----") else "credential token"
    if len(v) > 2048:
        return None
    if _PASSWORD_HASH_RE.match(v):
        return "credential password"
    if _is_random_string(v):
        return "credential token"
    return None


def is_secret_value(v: str) -> bool:
    """A value that is (or holds) a credential: a known token format, a PEM private key, a JWT,
    a password hash (bcrypt, argon2, crypt, Django/LDAP formats), a password inside a connection
    string or URL, or a random-looking string."""
    v = v.strip()
    if len(v) <= 4096 and _EMBEDDED_PASSWORD_RE.search(v):
        return True
    if len(v) < 16:
        return False
    if _SECRET_SEARCH_RE.search(v if len(v) <= 65536 else v[:65536]):
        return True
    if len(v) > 2048:
        return False
    return bool(_PASSWORD_HASH_RE.match(v)) or _is_random_string(v)


def _date_year(v: str) -> int | None:
    """The year of a date value (ISO, optional time; or DD/MM/YYYY, MM/DD/YYYY, DD.MM.YYYY)."""
    m = _ISO_DATE_RE.match(v)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = _DMY_RE.match(v)
        if not m:
            return None
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        d, mo = (a, b) if b <= 12 else (b, a)
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return y


# name -> (category, suggested); order = priority when two patterns match equally often
_CONTENT = {
    "secret": ("credential token", "hash"),
    "ssn": ("HIPAA-7 SSN", "faker.ssn"),
    "card": ("PCI PAN", "faker.creditCard"),
    "iban": ("GDPR IBAN", "faker.iban"),
    "email": ("HIPAA-6 email", "faker.email"),
    "mac": ("HIPAA-13 device identifier", "hash"),
    "ip": ("HIPAA-15 IP address", "faker.ipv4"),
    "url": ("HIPAA-14 URL", "faker.url"),
    "birthdate": ("GDPR date of birth", "faker.date"),
    "phone": ("HIPAA-4 phone", "faker.phone"),
}
_CONTENT_ALSO = {
    "PCI PAN": ("HIPAA-10 account number",),
    "GDPR IBAN": ("HIPAA-10 account number",),
    "GDPR date of birth": ("HIPAA-3 date",),
    "HIPAA-7 SSN": ("GDPR national id",),
}


def match_value(value: str, text_column: bool = True) -> set[str]:
    """The content patterns one value matches: ssn, card, iban, email, mac, ip, url, phone
    (birth dates are judged per column, see ContentSampler)."""
    v = value.strip()
    out = set()
    if not v or len(v) > 2048:
        return out
    if "@" in v:
        if _is_email(v):
            out.add("email")
        return out
    if _is_ssn(v):
        out.add("ssn")
    if _is_card(v):
        out.add("card")
    if _is_iban(v):
        out.add("iban")
    if _is_mac(v):
        out.add("mac")
    if _ip_version(v):
        out.add("ip")
    if _is_url(v):
        out.add("url")
    if _is_phone(v, text_column):
        out.add("phone")
    return out


def _array_elements(v: str) -> list[str]:
    """The elements of a PostgreSQL array literal ({a,"b c",NULL,{d}}), flattened; NULLs dropped.
    Not an array literal: [v]."""
    v = v.strip()
    if not (v.startswith("{") and v.endswith("}")):
        return [v]
    out: list[str] = []
    cur: list[str] = []
    quoted = was_quoted = False
    i, n = 0, len(v)
    while i < n:
        ch = v[i]
        if quoted:
            if ch == "\\" and i + 1 < n:
                cur.append(v[i + 1])
                i += 2
                continue
            if ch == '"':
                quoted = False
            else:
                cur.append(ch)
        elif ch == '"':
            quoted = was_quoted = True
        elif ch in "{},":
            item = "".join(cur).strip()
            if item and (was_quoted or item.upper() != "NULL"):
                out.append(item)
            cur, was_quoted = [], False
        else:
            cur.append(ch)
        i += 1
    return out


_SECRET_KINDS = frozenset({"text", "other", "json", "binary", "array"})


class ContentSampler:
    """Samples up to `limit` non-null values per column and says which columns look personal.

    sampler.add(column_name, value, column=None): value is the decoded value (str) or None
        (SQL NULL, ignored). Column names are opaque keys: use "table.column" for a whole dump.
        `column` (a schema Column, optional, remembered the first time) tells whether bare
        10-15 digit strings may be phone numbers (only in text columns; without it they are not).
    sampler.findings() -> {column_name: Finding}: columns where at least `threshold` (0.5) of
        the sampled values match one pattern. Birth dates need `date_threshold` (0.8), years
        between 1900 and (this year - 10) with a spread (>= 10 years between the oldest and
        youngest, several distinct years), and a column name that is not a system timestamp
        (last_update, created_at, rental_date...).
    sampler.full: True once every column seen has `limit` samples (the caller may stop reading).
    """

    def __init__(self, limit: int = 100, threshold: float = 0.5, date_threshold: float = 0.8,
                 columns: Iterable[str] | None = None, today: _dt.date | None = None):
        self.limit = limit
        self.threshold = threshold
        self.date_threshold = date_threshold
        self.samples: dict[str, list[str]] = {c: [] for c in (columns or ())}
        self.columns: dict[str, Column] = {}
        self.today = today or _dt.date.today()
        self._secret_cats: dict[str, str] = {}
        #: json columns: {column: {path: [string values found there]}} (the `json` mutation's paths)
        self.json_values: dict[str, dict[str, list[str]]] = {}

    def add(self, column_name: str, value, column: Column | None = None) -> None:
        s = self.samples.setdefault(column_name, [])
        if column is not None and column_name not in self.columns:
            self.columns[column_name] = column
        if value is None or len(s) >= self.limit:
            return
        if isinstance(value, bytes):
            value = value.decode("utf-8", "surrogateescape")
        value = str(value)
        if value.strip() == "":
            return  # empty strings say nothing either way
        col = self.columns.get(column_name)
        if col is not None and col.kind == "array":
            # bcc_emails text[]: the elements are the values
            for e in _array_elements(value)[: self.limit - len(s)]:
                s.append(e)
            return
        if col is not None and col.kind == "json":
            # a document's string members by path: an e-mail inside `profile` is found where it is
            _json_strings(value, self.json_values.setdefault(column_name, {}), self.limit)
        s.append(value)

    @property
    def full(self) -> bool:
        return bool(self.samples) and all(len(s) >= self.limit for s in self.samples.values())

    def shares(self, column_name: str) -> dict[str, float]:
        """{pattern: fraction of sampled values matching} for one column (patterns with > 0)."""
        vals = self.samples.get(column_name) or []
        if not vals:
            return {}
        col = self.columns.get(column_name)
        text_column = col is not None and col.kind in ("text", "other")
        if col is not None and col.kind == "array":
            text_column = True  # elements of text[]/varchar[]: the element type is text
        secrets_ok = col is None or col.kind in _SECRET_KINDS
        counts: dict[str, int] = {}
        secret_cats: dict[str, int] = {}
        for v in vals:
            if secrets_ok:
                sc = secret_category(v)
                if sc is not None:
                    counts["secret"] = counts.get("secret", 0) + 1
                    secret_cats[sc] = secret_cats.get(sc, 0) + 1
            for p in match_value(v, text_column):
                counts[p] = counts.get(p, 0) + 1
        out = {p: c / len(vals) for p, c in counts.items()}
        if secret_cats:
            self._secret_cats[column_name] = max(secret_cats, key=lambda c: (secret_cats[c], c))
        bd = self._birthdate_share(column_name, vals)
        if bd:
            out["birthdate"] = bd
        return out

    def _birthdate_share(self, column_name: str, vals: list[str]) -> float:
        if is_system_timestamp_name(column_name.rsplit(".", 1)[-1]):
            return 0.0
        col = self.columns.get(column_name)
        if col is not None and col.kind not in ("date", "timestamp", "text", "other"):
            return 0.0
        top = self.today.year - 10
        years = [y for y in (_date_year(v.strip()) for v in vals) if y is not None and 1900 <= y <= top]
        if not years:
            return 0.0
        share = len(years) / len(vals)
        distinct = len(set(years))
        if max(years) - min(years) < 10 or distinct < min(5, (len(years) + 1) // 2):
            return 0.0  # all in a year or two: an event log, not people's births
        return share

    def finding(self, column_name: str) -> Finding | None:
        f = self._finding(column_name)
        if f is None and self.json_values.get(column_name):
            f = self._json_finding(column_name)
        return f

    def _json_finding(self, column_name: str) -> Finding | None:
        """A json column whose documents hold personal data at some paths: one Finding whose
        suggestion is the `json` mutation with a mutation per path (by each path's content, and
        by its last key's name: `$.contact.email`, `$.first_name`)."""
        docs = max(1, len(self.samples.get(column_name) or ()))
        found: dict[str, Finding] = {}
        for path, vals in self.json_values[column_name].items():
            if len(vals) < min(3, docs):
                continue
            last = _json_last_key(path)
            col = Column(name=last or "value", kind="text", nullable=True)
            sub = ContentSampler(limit=self.limit, threshold=self.threshold, date_threshold=self.date_threshold,
                                 today=self.today)
            sub.columns[path] = col
            sub.samples[path] = list(vals)
            f = combine(detect_by_name(last, col) if last else None, sub._finding(path))
            if f is None or f.suggested in ("keep", "key", "json"):
                continue
            found[path] = f
        if not found:
            return None
        order = sorted(found, key=lambda p: (-(found[p].share or 0.0), p))
        head = found[order[0]]
        cats = []
        for p in order:
            for c in found[p].categories:
                if c != head.category and c not in cats:
                    cats.append(c)
        paths = {}
        for p in order:
            r = suggest_rule(found[p], Column(name=_json_last_key(p) or "value", kind="text", nullable=True))
            paths[p] = r["mutation"] if r["mutation"] not in ("keep", "key") else "redact"
        where = ", ".join(order[:3]) + (f" and {len(order) - 3} more" if len(order) > 3 else "")
        f = Finding(category=head.category, framework=head.framework, evidence=f"json {where}",
                    suggested="json", suggested_options={"paths": paths}, also=tuple(cats), share=head.share)
        f.raw_suggested = "json"
        return f

    def _finding(self, column_name: str) -> Finding | None:
        shares = self.shares(column_name)
        best = None
        for p in _CONTENT:  # priority order breaks ties
            sh = shares.get(p, 0.0)
            need = self.date_threshold if p == "birthdate" else self.threshold
            if sh >= need and (best is None or sh > best[1]):
                best = (p, sh)
        if best is None:
            return None
        p, sh = best
        cat, sug = _CONTENT[p]
        if p == "secret":
            cat = self._secret_cats.get(column_name, cat)
        if p == "ip":
            vals = self.samples[column_name]
            v6 = sum(1 for v in vals if _ip_version(v.strip()) == 6)
            if v6 * 2 > len(vals):
                sug = "faker.ipv6"
        f = Finding(category=cat, framework=vocabulary.framework(cat), evidence=f"content {_pct(sh)}",
                    suggested=sug, suggested_options={"preserveYear": True} if sug == "faker.date" else {},
                    also=_CONTENT_ALSO.get(cat, ()), share=sh)
        f.raw_suggested = sug
        col = self.columns.get(column_name)
        if col is not None:
            r = suggest_rule(f, col)
            f.suggested, f.suggested_options = r["mutation"], r.get("options", {})
        return f

    def findings(self) -> dict[str, Finding]:
        out = {}
        for name in self.samples:
            f = self.finding(name)
            if f is not None:
                out[name] = f
        return out


_JSON_KEY = lazy_pattern(globals(), "_JSON_KEY", r"[A-Za-z0-9_$-]+\Z")
_JSON_MAX_PATHS = 64          # per column: a document with more distinct paths is sampled on these
_JSON_MAX_DEPTH = 16


def _json_strings(text: str, out: dict[str, list[str]], limit: int) -> None:
    """Add the string members of one JSON document to out[path] (the `json` mutation's path
    syntax: `$.a.b`, `$["odd key"]`, `$.list[*]`), at most `limit` per path. Not JSON: nothing."""
    import orjson

    try:
        doc = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return
    stack = [("$", doc, 0)]
    while stack:
        path, v, depth = stack.pop()
        if isinstance(v, str):
            vals = out.get(path)
            if vals is None:
                if len(out) >= _JSON_MAX_PATHS:
                    continue
                vals = out[path] = []
            if len(vals) < limit and v.strip():
                vals.append(v)
        elif depth < _JSON_MAX_DEPTH and isinstance(v, dict):
            for k, x in v.items():
                seg = f".{k}" if _JSON_KEY.match(k) else "[" + _json_quote(k) + "]"
                stack.append((path + seg, x, depth + 1))
        elif depth < _JSON_MAX_DEPTH and isinstance(v, list):
            for x in v:
                stack.append((path + "[*]", x, depth + 1))


def _json_quote(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _json_last_key(path: str) -> str | None:
    """The last member name of a path ($.contact.email -> email; $.phones[*] -> phones)."""
    m = re.search(r'(?:\.([A-Za-z0-9_$-]+)|\["((?:[^"\\]|\\.)*)"\])(?:\[\*\])*\Z', path)
    if m is None:
        return None
    return m.group(1) if m.group(1) is not None else re.sub(r"\\(.)", r"\1", m.group(2))


def _pct(share: float) -> str:
    p = int(share * 100)  # floor: never claim 100% for 99.5%
    return f"{p}%"


# --------------------------------------------------------------------------- combine


def combine(name_finding: Finding | None, content_finding: Finding | None) -> Finding | None:
    """One Finding from both signals. The name's category wins (it is more specific: `fax` vs
    phone-shaped content); a different content category is kept in `also`. Evidence reads
    "name", "content 97%" or "name+content 97%". None when both are None."""
    if name_finding is None:
        return content_finding
    if content_finding is None:
        return name_finding
    also = list(name_finding.also)
    for c in content_finding.categories:
        if c != name_finding.category and c not in also:
            also.append(c)
    share = content_finding.share
    return replace(name_finding, evidence=f"name+content {_pct(share)}" if share is not None else "name+content",
                   also=tuple(also), share=share,
                   suggested_options=dict(name_finding.suggested_options))


# --------------------------------------------------------------------------- templates

#: Every category a finding can carry (dumpmask.categories, in its order).
CATEGORIES: tuple[str, ...] = vocabulary.NAMES

#: Which categories a template requires to be masked.
#: * hipaa: the 18 Safe Harbor identifiers (a birth date, a card number, an IBAN, a national id
#:   reach it through `Finding.also`: they are HIPAA-3/-10/-18 too) + credentials.
#: * pci: PAN, CVV, expiry, cardholder name, PIN + credentials.
#: * gdpr: every category: GDPR's "personal data" is any information relating to an
#:   identifiable person, so names, contacts, identifiers, card data... all count.
#: * all: every category.
#: Credentials are in every template: a username or a password (even hashed) identifies a
#: person and opens their account, whatever the regulation.
TEMPLATES: dict[str, frozenset[str]] = {
    "hipaa": vocabulary.names_of("hipaa", "credential"),
    "pci": vocabulary.names_of("pci", "credential"),
    "gdpr": frozenset(CATEGORIES),
    "all": frozenset(CATEGORIES),
}


#: Templates that cover identifiers (HIPAA #18, GDPR identifiers): a run or a rules file made
#: from them turns identifier remapping on, so key columns they flag are remapped, never
#: given a value mutation.
REMAPPING_TEMPLATES = frozenset({"hipaa", "gdpr", "all"})


def related_categories() -> dict[str, frozenset[str]]:
    """{category: the further categories detection gives the same data} (a date of birth is
    HIPAA-3 too, a card number HIPAA-10): the `also` of every name rule and content pattern."""
    related: dict[str, set[str]] = {}
    for rule in _RULES.values():
        related.setdefault(rule.category, set()).update(rule.also)
    for category, also in _CONTENT_ALSO.items():
        related.setdefault(category, set()).update(also)
    return {category: frozenset(also) for category, also in related.items()}


def in_template(finding: Finding, template: str) -> bool:
    """True when the template (a key of TEMPLATES) requires this finding to be masked: its
    category or one of its `also` categories belongs to the template. Unknown template: KeyError."""
    cats = TEMPLATES[template]
    return any(c in cats for c in finding.categories)


# --------------------------------------------------------------------------- suggestions

_TEXT_FAKERS = {"faker.email", "faker.name", "faker.firstName", "faker.lastName", "faker.phone",
                "faker.address", "faker.company", "faker.text", "faker.ssn", "faker.creditCard",
                "faker.iban", "faker.ipv4", "faker.ipv6", "faker.url", "faker.userName",
                "faker.postcode", "faker.city"}


# column kinds each suggested mutation can write (mirrors the transformers' declared `kinds`;
# tests/test_detect.py checks it against the registry). Not listed: any kind.
_MUTATION_KINDS: dict[str, tuple[str, ...]] = {
    **{m: ("text",) for m in _TEXT_FAKERS},
    "faker.phone": ("text", "int"),
    "faker.creditCard": ("text", "int", "numeric"),
    "faker.date": ("date", "timestamp", "text"),
    "faker.dateTime": ("date", "timestamp", "text"),
    "hash": ("text", "int", "numeric", "float", "uuid", "other"),
}


def _holds_16_digits(column: Column) -> bool:
    if column.kind == "int":
        return column.int_max is not None and column.int_max >= 10**16 - 1
    if column.kind == "numeric":
        return column.precision is None or column.precision - (column.scale or 0) >= 16
    return False


def suggest_rule(finding: Finding, column: Column | str) -> dict:
    """A rules-file column mutation for a finding, fitted to the column's type:
    {"column": name, "mutation": spec} plus "options" when there are any.

    * date columns get faker.date {"preserveYear": true}; timestamp columns faker.dateTime
      {"preserveYear": true}; dates kept as text keep the finding's suggestion; year columns
      are kept (a year alone is allowed by HIPAA Safe Harbor, except ages over 89: review);
    * numeric columns (int/numeric/float) cannot take faker text: identifiers are hashed
      (hash fits the type), card numbers in a column holding 16 digits keep faker.creditCard,
      everything else is hashed too (e.g. a phone stored as an integer): never `redact`, whose
      type minimum or 0 would read as a real value;
    * binary/array/json columns (photos, biometrics, hashed passwords as bytes) are nulled, or
      redacted when NOT NULL;
    * enum/bool columns (gender) are kept: no generator fits them, the finding stays for review;
    * PCI CVV/PIN are redacted (nothing to preserve; hashed in numeric columns), passwords and
      other credentials hashed;
    * a finding on a key column (`suggested` "key") stays "key": it is remapped;
    * a NOT NULL column never gets "null" (redact instead).
    A bare column name (str) is taken as a nullable text column.
    """
    if isinstance(column, str):
        column = Column(name=column, kind="text")
    mutation = finding.suggested
    options = dict(finding.suggested_options)
    kind = column.kind
    cat = finding.category
    if mutation == "key":
        out = {"column": column.name, "mutation": "key"}
        if options:
            out["options"] = options
        return out

    if cat in ("PCI CVV", "PCI PIN"):
        mutation, options = "redact", {}
    elif kind == "date":
        if mutation in ("faker.date", "faker.dateTime") or cat in ("HIPAA-3 date", "GDPR date of birth"):
            mutation, options = "faker.date", {"preserveYear": True}
        elif mutation in _TEXT_FAKERS or mutation == "redact":
            mutation, options = "faker.date", {}  # never 1900-01-01: a date that reads as real
    elif kind == "timestamp":
        if mutation in ("faker.date", "faker.dateTime") or cat in ("HIPAA-3 date", "GDPR date of birth"):
            mutation, options = "faker.dateTime", {"preserveYear": True}
        elif mutation in _TEXT_FAKERS or mutation == "redact":
            mutation, options = "faker.dateTime", {}
    elif kind == "year":
        mutation, options = "keep", {}
    elif kind in ("int", "numeric", "float"):
        if mutation == "faker.creditCard" and _holds_16_digits(column):
            pass  # faker.creditCard writes 16-digit integers
        elif mutation == "faker.phone" and kind == "int":
            mutation, options = "hash", {}  # a phone stored as a number: a keyed number of the type
        elif mutation in _TEXT_FAKERS or mutation in ("faker.date", "faker.dateTime", "redact"):
            mutation, options = "hash", {}
    elif kind == "json" and mutation == "json":
        pass  # personal data at some paths of the documents: masked where it is
    elif kind in ("binary", "array", "json"):
        # photos, biometrics, hashed passwords, lists: no generator writes these types
        mutation, options = "null", {}
    elif kind in ("enum", "bool", "bit"):
        mutation, options = ("keep" if cat == "GDPR gender" else ("null" if column.nullable else "keep")), {}
    elif kind in ("uuid",):
        mutation, options = "hash", {}
    if mutation in ("faker.date", "faker.dateTime") and not options:
        options = {"preserveYear": True}
    fits = _MUTATION_KINDS.get(mutation)
    if fits is not None and kind not in fits and kind != "other":
        mutation, options = "null", {}  # nothing of this kind fits: drop the value (or redact)
    if mutation == "null" and not column.nullable:
        mutation, options = "redact", {}
    if mutation == "redact" and kind in ("int", "numeric", "float"):
        # redact writes the type's minimum / 0: a value that reads as real data; a keyed number instead
        mutation, options = "hash", {}
    out = {"column": column.name, "mutation": mutation}
    if options:
        out["options"] = options
    return out


# --------------------------------------------------------------------------- rules that restore


def valid_for(mutation: str, options: dict | None, column: Column, unique: bool = False,
              dialect: str | None = None) -> bool:
    """True when the rule {"mutation", "options"} writes values that restore into the column
    (and keeps distinct values distinct when `unique`): dumpmask.transformers.valid_for."""
    from dumpmask.transformers import valid_for as _valid_for

    return _valid_for(mutation, options or {}, column, unique=unique, dialect=dialect) is None


def injective_mutations(column: Column, dialect: str | None = None) -> tuple[str, ...]:
    """Injective mutations that fit the column, best first, without `keep`."""
    from dumpmask.transformers import injective_mutations as _inj

    return tuple(m for m in _inj(column, dialect) if m != "keep")


def fit_rule(finding: Finding, column: Column, unique: bool = False, dialect: str | None = None) -> dict:
    """suggest_rule, then made safe to restore.

    * a key column keeps "key" (it is remapped);
    * a column of a PRIMARY KEY / UNIQUE constraint / unique index gets an injective mutation:
      the suggestion when it is one (faker.email, faker.userName, hash), else the first of
      injective_mutations (hash first; "key", a keyed permutation of the column on its own,
      for integers too small for a collision-free hash);
    * any other suggestion must pass valid_for, else hash, null (nullable) or redact in that
      order (never redact into numbers or dates: see suggest_rule);
    * when nothing restores into the type (a NOT NULL geometry), "keep" with "review": True,
      which the caller must report.
    """
    r = suggest_rule(finding, column)
    m, opts = r["mutation"], r.get("options", {})
    if m == "key":
        return r
    first = [(m, opts)]
    raw = finding.raw_suggested
    if column.kind == "array" and raw and raw not in (m, "key", "keep"):
        # an element-wise mutation (faker.email on text[]) when the array's element type takes it
        first.insert(0, (raw, {"preserveYear": True} if raw in ("faker.date", "faker.dateTime") else {}))
    if unique:
        inj = list(injective_mutations(column, dialect))
        if column.kind in ("int", "numeric") and not _hash_room(column) and "key" in inj:
            cands = [("key", {})]  # a permutation: no collision in a small integer type
        else:
            cands = [c for c in first if c[0] in inj] + [(x, {}) for x in inj if x != m]
    else:
        cands = first + [("hash", {}), ("null", {}), ("redact", {})]
        if column.kind in ("int", "numeric", "float", "date", "timestamp", "time", "interval", "year"):
            cands = [c for c in cands if c[0] != "redact"]
    for mm, oo in cands:
        if valid_for(mm, oo, column, unique=unique, dialect=dialect):
            out = {"column": column.name, "mutation": mm}
            if oo:
                out["options"] = oo
            return out
    return {"column": column.name, "mutation": "keep", "review": True}


def _hash_room(column: Column) -> bool:
    """True when a keyed hash into this integer/numeric column is collision-free in practice
    (62 bits or more of room: a bigint); smaller integers are remapped with "key" instead."""
    if column.kind == "int":
        return column.int_max is not None and column.int_max >= (1 << 62)
    if column.kind == "numeric":
        return column.precision is None or (column.precision - (column.scale or 0)) >= 19
    return True
