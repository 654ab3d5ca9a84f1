"""A generated application schema for end-to-end tests: hundreds of tables with the shapes large
open-source schemas have (partitions, inheritance, quoted and non-ASCII names, loose keys,
secrets, unique constraints and indexes, enums, geometric types, arrays), with realistic rows.

`postgres_schema(seed, groups)` -> Generated(sql, sensitive, expect): `sql` creates everything in
an empty database (psql -v ON_ERROR_STOP=1); `sensitive` holds every e-mail and secret written
into a column that detection must find (none of them may survive masking); `expect` maps
"schema.table.column" to the category family detection must report for it ("credential",
"HIPAA-6 email", ...), and "schema.table.column" -> "key" for detected key columns.
"""
from __future__ import annotations

import base64
import hashlib
import random
import string
from dataclasses import dataclass, field

FIRST = ["Mary", "John", "Ann", "Piotr", "Zoë", "José", "Łucja", "Ahmed", "Mei", "Olga", "Liam", "Sofia"]
LAST = ["Smith", "Kowalski", "Nguyen", "García", "Müller", "Rossi", "Okafor", "Tanaka", "Brown", "Silva"]
PEOPLE = ["patients", "members", "customers", "employees", "contacts", "subscribers", "students",
          "clients", "guests", "drivers", "tenants", "donors"]


@dataclass
class Generated:
    sql: str
    sensitive: set = field(default_factory=set)     # values that must not appear in a masked dump
    expect: dict = field(default_factory=dict)      # "schema.table.column" -> category prefix or "key"
    tables: list = field(default_factory=list)      # "schema.table" (quoted where needed) with rows
    row_counts: dict = field(default_factory=dict)  # table (SQL name) -> rows inserted


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def arr(vals) -> str:
    return "ARRAY[" + ", ".join(lit(v) for v in vals) + "]::text[]"


class _Rand:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.n = 0

    def uniq(self) -> int:
        self.n += 1
        return self.n

    def email(self) -> str:
        f, l = self.r.choice(FIRST), self.r.choice(LAST)
        asc = lambda s: "".join(ch for ch in s.lower() if ch in string.ascii_lowercase)  # noqa: E731
        return f"{asc(f)}.{asc(l)}{self.uniq()}@{self.r.choice(['example.org', 'mail.example.com', 'corp.example.net'])}"

    def alnum(self, n: int) -> str:
        return "".join(self.r.choice(string.ascii_letters + string.digits) for _ in range(n))

    def hexs(self, n: int) -> str:
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    def phone(self) -> str:
        return f"+1 ({self.r.randint(201, 989)}) {self.r.randint(200, 999)}-{self.r.randint(1000, 9999)}"

    def secret(self) -> str:
        k = self.r.randrange(7)
        if k == 0:
            return "ghp_" + self.alnum(36)
        if k == 1:
            return "sk_live_" + self.alnum(24)
        if k == 2:
            return "glpat-" + self.alnum(20)
        if k == 3:
            return "xoxb-" + str(self.r.randint(10**9, 10**10)) + "-" + self.alnum(24)
        if k == 4:
            h = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
            p = base64.urlsafe_b64encode(f'{{"sub":"{self.uniq()}","n":"{self.alnum(8)}"}}'.encode()).rstrip(b"=").decode()
            return f"{h}.{p}.{self.alnum(43)}"
        if k == 5:
            return "AKIA" + "".join(self.r.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        return self.alnum(32)

    def bcrypt(self) -> str:
        return "$2a$10$" + "".join(self.r.choice("./" + string.ascii_letters + string.digits) for _ in range(53))

    def pem(self) -> str:
        body = base64.b64encode(self.r.randbytes(96)).decode()
        return f"-----BEGIN RSA PRIVATE KEY-----\n{body[:64]}\n{body[64:]}\n-----END RSA PRIVATE KEY-----"


def postgres_schema(seed: int = 17, groups: int = 60) -> Generated:
    R = _Rand(seed)
    g = Generated(sql="")
    out: list[str] = ["SET client_min_messages = warning;",
                      "CREATE SCHEMA billing;", 'CREATE SCHEMA "App Schema";',
                      "CREATE TYPE public.mood AS ENUM ('happy', 'sad', 'neutral');",
                      "CREATE TYPE public.plan AS ENUM ('free', 'pro');"]

    def insert(table_sql: str, cols: list[str], rows: list[list]) -> None:
        if not rows:
            return
        out.append(f"INSERT INTO {table_sql} ({', '.join(cols)}) VALUES\n" +
                   ",\n".join("(" + ", ".join(v if isinstance(v, RawSQL) else lit(v) for v in r) + ")" for r in rows) + ";")
        g.row_counts[table_sql] = g.row_counts.get(table_sql, 0) + len(rows)

    def expect(schema: str, table: str, col: str, what: str) -> None:
        g.expect[f"{schema}.{table}.{col}"] = what

    # ---------------------------------------------------------------- accounts, taxes, keys
    out.append("CREATE TABLE billing.accounts (id bigserial PRIMARY KEY, name text NOT NULL, "
               "account_number varchar(34) UNIQUE, api_key varchar(64) UNIQUE);")
    rows = []
    for i in range(1, 9):
        k = "sk_live_" + R.alnum(24)
        g.sensitive.add(k)
        rows.append([i, f"Account {i}", f"AC{R.r.randint(10**9, 10**10)}", k])
    insert("billing.accounts", ["id", "name", "account_number", "api_key"], rows)
    expect("billing", "accounts", "api_key", "credential")
    expect("billing", "accounts", "account_number", "HIPAA-10")
    out.append("SELECT setval('billing.accounts_id_seq', 8);")

    out.append("CREATE TABLE billing.taxes (id uuid PRIMARY KEY, name text NOT NULL, rate numeric(5,2) NOT NULL);")
    taxes = [f"{R.hexs(8)}-{R.hexs(4)}-4{R.hexs(3)}-a{R.hexs(3)}-{R.hexs(12)}" for _ in range(4)]
    insert("billing.taxes", ["id", "name", "rate"], [[t, f"VAT {i}", 20 + i] for i, t in enumerate(taxes)])
    out.append("CREATE TABLE billing.fees (id serial PRIMARY KEY, account_id bigint NOT NULL REFERENCES billing.accounts(id), "
               "amount numeric(12,2) NOT NULL, bcc_emails text[]);")
    out.append("CREATE TABLE billing.fees_taxes (fee_id integer NOT NULL REFERENCES billing.fees(id), "
               "tax_id uuid NOT NULL REFERENCES billing.taxes(id), PRIMARY KEY (fee_id, tax_id));")
    rows, ft = [], []
    for i in range(1, 13):
        mails = [R.email() for _ in range(R.r.randint(1, 3))]
        g.sensitive.update(mails)
        rows.append([i, R.r.randint(1, 8), R.r.randint(100, 99999) / 100, RawSQL(arr(mails))])
        ft.append([i, R.r.choice(taxes)])
    insert("billing.fees", ["id", "account_id", "amount", "bcc_emails"], rows)
    insert("billing.fees_taxes", ["fee_id", "tax_id"], ft)
    out.append("SELECT setval('billing.fees_id_seq', 12);")
    expect("billing", "fees", "bcc_emails", "HIPAA-6 email")
    expect("billing", "fees", "account_id", "key")
    expect("billing", "fees_taxes", "tax_id", "key")

    # schema_migrations: 14-digit timestamps (not phone numbers), a primary key
    out.append("CREATE TABLE public.schema_migrations (version character varying NOT NULL PRIMARY KEY);")
    insert("public.schema_migrations", ["version"], [[f"2024{m:02d}{d:02d}1{h}0000"] for m in range(1, 5)
                                                     for d in (3, 17) for h in range(3)])
    out.append("CREATE TABLE public.ar_internal_metadata (key character varying NOT NULL PRIMARY KEY, "
               "value character varying, created_at timestamp(6) NOT NULL);")
    insert("public.ar_internal_metadata", ["key", "value", "created_at"],
           [["environment", "production", "2024-01-01 10:00:00"], ["schema_sha1", R.hexs(40), "2024-01-01 10:00:00"]])

    # ---------------------------------------------------------------- secrets tables
    out.append("CREATE TABLE public.api_keys (id serial PRIMARY KEY, name text NOT NULL, value text NOT NULL UNIQUE, "
               "tokens_count integer NOT NULL DEFAULT 0, salted boolean NOT NULL DEFAULT false);")
    rows = []
    for i in range(1, 7):
        v = R.secret()
        g.sensitive.add(v)
        rows.append([i, f"key {i}", v, R.r.randint(0, 500), bool(i % 2)])
    insert("public.api_keys", ["id", "name", "value", "tokens_count", "salted"], rows)
    expect("public", "api_keys", "value", "credential")
    out.append("CREATE TABLE public.integrations (id serial PRIMARY KEY, kind text NOT NULL, secrets jsonb NOT NULL, "
               "webhook_secret varchar(120));")
    rows = []
    for i in range(1, 6):
        a, b = "ghp_" + R.alnum(36), "whsec_" + R.alnum(24)
        g.sensitive.update([a, b])
        rows.append([i, "github", '{"token": "%s"}' % a, b])
    insert("public.integrations", ["id", "kind", "secrets", "webhook_secret"], rows)
    expect("public", "integrations", "secrets", "credential")
    expect("public", "integrations", "webhook_secret", "credential")
    out.append("CREATE TABLE public.oauth_applications (id serial PRIMARY KEY, name text NOT NULL, uid varchar(64) NOT NULL, "
               "secret varchar(64) NOT NULL, redirect_uri text);")
    rows = []
    for i in range(1, 5):
        s = R.alnum(43)
        g.sensitive.add(s)
        rows.append([i, f"app{i}", R.hexs(32), s, f"https://app{i}.example.com/cb"])
    insert("public.oauth_applications", ["id", "name", "uid", "secret", "redirect_uri"], rows)
    expect("public", "oauth_applications", "secret", "credential")
    out.append("CREATE TABLE public.oauth_access_tokens (id bigserial PRIMARY KEY, application_id integer "
               "REFERENCES public.oauth_applications(id), token varchar(255) NOT NULL, refresh_token varchar(255), "
               "expires_in integer, scopes text);")
    out.append("CREATE UNIQUE INDEX index_oauth_access_tokens_on_token ON public.oauth_access_tokens USING btree (token);")
    out.append("CREATE UNIQUE INDEX index_oauth_access_tokens_on_refresh_token ON public.oauth_access_tokens (refresh_token);")
    rows = []
    for i in range(1, 9):
        t, rt = R.secret(), R.alnum(40)
        g.sensitive.update([t, rt])
        rows.append([i, R.r.randint(1, 4), t, rt, 7200, "read write"])
    insert("public.oauth_access_tokens", ["id", "application_id", "token", "refresh_token", "expires_in", "scopes"], rows)
    expect("public", "oauth_access_tokens", "token", "credential")
    expect("public", "oauth_access_tokens", "refresh_token", "credential")
    out.append("CREATE TABLE public.signing_keys (id serial PRIMARY KEY, private_key text NOT NULL, created_at timestamptz);")
    rows = []
    for i in range(1, 4):
        k = R.pem()
        g.sensitive.add(k.splitlines()[1])
        rows.append([i, k, "2024-02-02 10:00:00+00"])
    insert("public.signing_keys", ["id", "private_key", "created_at"], rows)
    expect("public", "signing_keys", "private_key", "credential")

    # ---------------------------------------------------------------- quoted, mixed-case, non-ASCII
    out.append('CREATE TABLE public."User" (id serial PRIMARY KEY, "Email" text NOT NULL UNIQUE, "firstName" text, '
               '"passwordDigest" text, "confirmationToken" varchar(64));')
    out.append('CREATE TABLE public."Post" (id serial PRIMARY KEY, "authorId" integer NOT NULL REFERENCES public."User"(id), '
               'title text);')
    rows, posts = [], []
    for i in range(1, 9):
        e, tok = R.email(), R.alnum(32)
        g.sensitive.update([e, tok])
        rows.append([i, e, R.r.choice(FIRST), R.bcrypt(), tok])
        posts.append([i, i, f"post {i}"])
    insert('public."User"', ["id", '"Email"', '"firstName"', '"passwordDigest"', '"confirmationToken"'], rows)
    insert('public."Post"', ["id", '"authorId"', "title"], posts)
    for c in ("Email", "passwordDigest", "confirmationToken"):
        expect("public", "User", c, "HIPAA-6 email" if c == "Email" else "credential")
    out.append('CREATE TABLE "App Schema"."Zażółć Klienci" ("Id" integer PRIMARY KEY, "Imię" text, "e-mail" text, '
               '"numer telefonu" text, "select" text);')
    rows = []
    for i in range(1, 6):
        e = R.email()
        g.sensitive.add(e)
        rows.append([i, R.r.choice(FIRST), e, R.phone(), "x"])
    insert('"App Schema"."Zażółć Klienci"', ['"Id"', '"Imię"', '"e-mail"', '"numer telefonu"', '"select"'], rows)
    expect("App Schema", "Zażółć Klienci", "e-mail", "HIPAA-6 email")

    # ---------------------------------------------------------------- partitions and inheritance
    out.append("CREATE TABLE public.p_ci_builds (id bigint NOT NULL, partition_id bigint NOT NULL, name text, "
               "token varchar(64), PRIMARY KEY (id, partition_id)) PARTITION BY LIST (partition_id);")
    out.append("CREATE TABLE public.ci_builds_100 PARTITION OF public.p_ci_builds FOR VALUES IN (100);")
    out.append("CREATE TABLE public.ci_builds_101 PARTITION OF public.p_ci_builds FOR VALUES IN (101);")
    rows = []
    for i in range(1, 11):
        t = "glrt-" + R.alnum(24)
        g.sensitive.add(t)
        rows.append([i, 100 + i % 2, f"build {i}", t])
    insert("public.p_ci_builds", ["id", "partition_id", "name", "token"], rows)
    expect("public", "p_ci_builds", "token", "credential")
    out.append("CREATE TABLE public.ci_build_logs (id serial PRIMARY KEY, build_id bigint NOT NULL, partition_id bigint NOT NULL, "
               "line text, FOREIGN KEY (build_id, partition_id) REFERENCES public.p_ci_builds(id, partition_id));")
    insert("public.ci_build_logs", ["build_id", "partition_id", "line"], [[r[0], r[1], "ok"] for r in rows])
    out.append("CREATE TABLE public.audit_events (id bigint NOT NULL, email text, created_at date NOT NULL, "
               "PRIMARY KEY (id)) PARTITION BY RANGE (id);")
    out.append("CREATE TABLE public.audit_events_p0 PARTITION OF public.audit_events FOR VALUES FROM (0) TO (1000);")
    out.append("CREATE TABLE public.audit_events_p1 PARTITION OF public.audit_events FOR VALUES FROM (1000) TO (MAXVALUE);")
    rows = []
    for i in (1, 2, 3, 999, 1000, 1500):
        e = R.email()
        g.sensitive.add(e)
        rows.append([i, e, "2024-03-03"])
    insert("public.audit_events", ["id", "email", "created_at"], rows)
    expect("public", "audit_events", "email", "HIPAA-6 email")
    out.append("CREATE TABLE public.user_sessions (user_id integer NOT NULL, session_token varchar(64) NOT NULL, "
               "ip_address inet) PARTITION BY HASH (user_id);")
    for k in range(3):
        out.append(f"CREATE TABLE public.user_sessions_{k} PARTITION OF public.user_sessions "
                   f"FOR VALUES WITH (MODULUS 3, REMAINDER {k});")
    rows = []
    for i in range(1, 10):
        t = R.alnum(40)
        g.sensitive.add(t)
        rows.append([i, t, f"10.{i}.{R.r.randint(0, 255)}.{R.r.randint(1, 254)}"])
    insert("public.user_sessions", ["user_id", "session_token", "ip_address"], rows)
    expect("public", "user_sessions", "session_token", "credential")
    out.append("CREATE TABLE public.vehicles (id serial PRIMARY KEY, vin varchar(17), license_plate text);")
    out.append("CREATE TABLE public.cars (doors smallint) INHERITS (public.vehicles);")
    insert("public.vehicles", ["vin", "license_plate"], [[R.alnum(17).upper(), f"KR {R.r.randint(10000, 99999)}"] for _ in range(3)])
    g.row_counts["ONLY public.vehicles"] = g.row_counts.pop("public.vehicles")  # without its INHERITS child
    insert("public.cars", ["vin", "license_plate", "doors"], [[R.alnum(17).upper(), f"WX {R.r.randint(10000, 99999)}", 4] for _ in range(3)])

    # ---------------------------------------------------------------- groups of people tables
    schemas = ["public", "billing"]
    for gi in range(groups):
        base = PEOPLE[gi % len(PEOPLE)]
        sch = schemas[gi % len(schemas)]
        tname = base if gi < len(PEOPLE) * 2 and gi < len(PEOPLE) else f"{base}_{gi}"
        if gi >= len(PEOPLE):
            tname = f"{base}_{gi}"
        t = f"{sch}.{tname}"
        idkind = ["serial", "bigserial", "uuid"][gi % 3]
        cols = [f"id {idkind} PRIMARY KEY" if idkind != "uuid" else "id uuid PRIMARY KEY"]
        names = ["id"]
        spec = []  # (column, generator, expect)
        uniq_email = gi % 2 == 0
        spec.append(("email", f"varchar(120){' NOT NULL UNIQUE' if uniq_email else ''}", R.email, "HIPAA-6 email", True))
        spec.append(("first_name", "text", lambda: R.r.choice(FIRST), "HIPAA-1", False))
        spec.append(("last_name", "text", lambda: R.r.choice(LAST), "HIPAA-1", False))
        if gi % 3 == 0:
            spec.append(("cell", "varchar(30)", R.phone, "HIPAA-4", False))
        if gi % 3 == 1:
            spec.append(("phone", "varchar(30) UNIQUE", R.phone, "HIPAA-4", False))
        if gi % 4 == 0:
            spec.append(("member_id", "varchar(20)", lambda: f"M{R.r.randint(10**7, 10**8)}", "HIPAA-9", False))
            spec.append(("insurance_id", "varchar(20)", lambda: f"INS-{R.r.randint(10**6, 10**7)}", "HIPAA-9", False))
        if gi % 4 == 1:
            spec.append(("license_id", "text", lambda: f"DL{R.r.randint(10**6, 10**7)}", "HIPAA-11", False))
            spec.append(("tax_identification_number", "varchar(20)", lambda: f"{R.r.randint(10**8, 10**9)}", "GDPR", False))
        if gi % 4 == 2:
            spec.append(("nino", "char(9)", lambda: "AB" + str(R.r.randint(100000, 999999)) + "C", "GDPR", False))
            spec.append(("codice_fiscale", "varchar(16)", lambda: R.alnum(16).upper(), "GDPR", False))
        if gi % 4 == 3:
            spec.append(("patient_id", "varchar(12)", lambda: f"P{R.r.randint(10**6, 10**7)}", "HIPAA-8", False))
            spec.append(("date_of_birth", "date", lambda: f"{R.r.randint(1940, 2005)}-0{R.r.randint(1, 9)}-1{R.r.randint(0, 9)}", "GDPR", False))
        if gi % 5 == 0:
            spec.append(("encrypted_password", "varchar(128) NOT NULL", R.bcrypt, "credential", True))
            spec.append(("reset_password_token", "varchar(64) UNIQUE", lambda: R.alnum(32), "credential", True))
            spec.append(("otp_secret", "text", lambda: "".join(R.r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(32)), "credential", True))
        if gi % 5 == 1:
            spec.append(("confirmation_token", "varchar(64)", lambda: R.alnum(20), "credential", True))
            spec.append(("unlock_token", "varchar(64)", lambda: R.alnum(20), "credential", True))
            spec.append(("token_digest", "char(64)", lambda: R.hexs(64), "credential", True))
        if gi % 5 == 2:
            spec.append(("api_key", "varchar(255) UNIQUE", R.secret, "credential", True))
            spec.append(("cc_emails", "varchar(120)[]", lambda: RawSQL("ARRAY[" + ", ".join(lit(R.email()) for _ in range(2)) + "]"), "HIPAA-6 email", True))
        spec.append(("mood", "public.mood NOT NULL", lambda: R.r.choice(["happy", "sad", "neutral"]), None, False))
        spec.append(("location", "point" + (" NOT NULL" if gi % 6 == 0 else ""), lambda: f"({R.r.uniform(-80, 80):.5f},{R.r.uniform(-170, 170):.5f})", None, False))
        spec.append(("tokens_count", "integer NOT NULL", lambda: R.r.randint(0, 9), None, False))
        spec.append(("salted", "boolean", lambda: True, None, False))
        spec.append(("created_at", "timestamp NOT NULL", lambda: "2024-01-02 03:04:05", None, False))
        for c, ty, _, exp_, _ in spec:
            cols.append(f"{c} {ty}")
            names.append(c)
            if exp_:
                expect(sch, tname, c, exp_)
        out.append(f"CREATE TABLE {t} ({', '.join(cols)});")
        if gi % 7 == 0:
            out.append(f"CREATE UNIQUE INDEX {tname}_lower_email ON {t} (lower(email::text));")
        rows = []
        ids = []
        for i in range(1, R.r.randint(3, 6) + 1):
            idv = (f"{R.hexs(8)}-{R.hexs(4)}-4{R.hexs(3)}-8{R.hexs(3)}-{R.hexs(12)}" if idkind == "uuid" else i)
            ids.append(idv)
            row = [idv]
            for c, ty, gen, exp_, sens in spec:
                v = gen()
                if sens:
                    if isinstance(v, RawSQL):
                        for part in v.split("'")[1::2]:
                            g.sensitive.add(part)
                    else:
                        g.sensitive.add(v)
                row.append(v)
            rows.append(row)
        insert(t, names, rows)
        if idkind != "uuid":
            out.append(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), {len(ids)});")
        singular = base[:-1]
        pk_type = {"serial": "integer", "bigserial": "bigint", "uuid": "uuid"}[idkind]
        # a child with a declared FK, a child with a loose key (no FK) of the parent's key type
        out.append(f"CREATE TABLE {sch}.{tname}_events (id serial PRIMARY KEY, {singular}_id {pk_type} NOT NULL "
                   f"REFERENCES {t}(id), kind text, happened_on date);")
        insert(f"{sch}.{tname}_events", [f"{singular}_id", "kind", "happened_on"],
               [[R.r.choice(ids), "visit", "2024-04-04"] for _ in range(3)])
        out.append(f"CREATE TABLE {sch}.{tname}_notes (id serial PRIMARY KEY, {singular}_id {pk_type}, body text);")
        insert(f"{sch}.{tname}_notes", [f"{singular}_id", "body"], [[R.r.choice(ids), "all good"] for _ in range(2)])
    g.sql = "\n".join(out) + "\n"
    return g


class RawSQL(str):
    """A value written into the SQL as is (an ARRAY[...] constructor)."""


def _bq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def mysql_schema(seed: int = 23, groups: int = 40) -> Generated:
    """The MariaDB counterpart: the same shapes where MariaDB has them (partitions LIST / RANGE /
    HASH, backquoted mixed-case and non-ASCII names, loose keys, secrets, unique keys, ENUM,
    POINT, JSON), no arrays, no inheritance. Tables are unqualified (one database)."""
    R = _Rand(seed)
    g = Generated(sql="")
    out: list[str] = ["SET NAMES utf8mb4;"]

    def insert(table: str, cols: list[str], rows: list[list]) -> None:
        if not rows:
            return
        out.append(f"INSERT INTO {table} ({', '.join(cols)}) VALUES\n" +
                   ",\n".join("(" + ", ".join(v if isinstance(v, RawSQL) else lit(v).replace("\\", "\\\\") for v in r) + ")"
                              for r in rows) + ";")
        g.row_counts[table] = g.row_counts.get(table, 0) + len(rows)

    def expect(table: str, col: str, what: str) -> None:
        g.expect[f"{table}.{col}"] = what

    out.append("CREATE TABLE accounts (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(80) NOT NULL, "
               "api_key varchar(64) UNIQUE) ENGINE=InnoDB;")
    rows = []
    for i in range(1, 7):
        k = "sk_live_" + R.alnum(24)
        g.sensitive.add(k)
        rows.append([i, f"Account {i}", k])
    insert("accounts", ["id", "name", "api_key"], rows)
    expect("accounts", "api_key", "credential")
    out.append("CREATE TABLE taxes (id char(36) NOT NULL PRIMARY KEY, name varchar(40) NOT NULL) ENGINE=InnoDB;")
    taxes = [f"{R.hexs(8)}-{R.hexs(4)}-4{R.hexs(3)}-a{R.hexs(3)}-{R.hexs(12)}" for _ in range(3)]
    insert("taxes", ["id", "name"], [[t, f"VAT {i}"] for i, t in enumerate(taxes)])
    out.append("CREATE TABLE fees_taxes (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, account_id bigint unsigned NOT NULL, "
               "tax_id char(36) NOT NULL, FOREIGN KEY (account_id) REFERENCES accounts(id), "
               "FOREIGN KEY (tax_id) REFERENCES taxes(id)) ENGINE=InnoDB;")
    insert("fees_taxes", ["account_id", "tax_id"], [[R.r.randint(1, 6), R.r.choice(taxes)] for _ in range(8)])
    expect("fees_taxes", "tax_id", "key")
    out.append("CREATE TABLE schema_migrations (version varchar(255) NOT NULL PRIMARY KEY) ENGINE=InnoDB;")
    insert("schema_migrations", ["version"], [[f"2024{m:02d}1{d}120000"] for m in range(1, 7) for d in range(3)])
    out.append("CREATE TABLE api_keys (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, value varchar(255) NOT NULL, "
               "tokens_count int NOT NULL DEFAULT 0, salted tinyint(1) NOT NULL DEFAULT 0, UNIQUE KEY uk_value (value)) ENGINE=InnoDB;")
    rows = []
    for i in range(1, 6):
        v = R.secret()
        g.sensitive.add(v)
        rows.append([v, R.r.randint(0, 9), i % 2])
    insert("api_keys", ["value", "tokens_count", "salted"], rows)
    expect("api_keys", "value", "credential")
    out.append("CREATE TABLE integrations (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, secrets json NOT NULL) ENGINE=InnoDB;")
    rows = []
    for i in range(1, 4):
        a = "ghp_" + R.alnum(36)
        g.sensitive.add(a)
        rows.append(['{"token": "%s"}' % a])
    insert("integrations", ["secrets"], rows)
    expect("integrations", "secrets", "credential")
    out.append("CREATE TABLE `UserAccount` (`Id` int NOT NULL AUTO_INCREMENT PRIMARY KEY, `EmailAddress` varchar(120) NOT NULL, "
               "`passwordDigest` varchar(80), UNIQUE KEY (`EmailAddress`)) ENGINE=InnoDB;")
    rows = []
    for i in range(1, 6):
        e = R.email()
        g.sensitive.add(e)
        rows.append([e, R.bcrypt()])
    insert("`UserAccount`", ["`EmailAddress`", "`passwordDigest`"], rows)
    expect("UserAccount", "EmailAddress", "HIPAA-6 email")
    expect("UserAccount", "passwordDigest", "credential")
    out.append("CREATE TABLE `Zażółć klienci` (`id` int NOT NULL PRIMARY KEY, `e-mail` varchar(120), `imię` varchar(40)) ENGINE=InnoDB;")
    rows = []
    for i in range(1, 5):
        e = R.email()
        g.sensitive.add(e)
        rows.append([i, e, R.r.choice(FIRST)])
    insert("`Zażółć klienci`", ["`id`", "`e-mail`", "`imię`"], rows)
    expect("Zażółć klienci", "e-mail", "HIPAA-6 email")
    # partitions: LIST, RANGE, HASH with key columns
    out.append("CREATE TABLE ci_builds (id bigint NOT NULL, partition_id int NOT NULL, token varchar(64), "
               "PRIMARY KEY (id, partition_id)) ENGINE=InnoDB PARTITION BY LIST (partition_id) "
               "(PARTITION p100 VALUES IN (100), PARTITION p101 VALUES IN (101));")
    rows = []
    for i in range(1, 9):
        t = "glrt-" + R.alnum(24)
        g.sensitive.add(t)
        rows.append([i, 100 + i % 2, t])
    insert("ci_builds", ["id", "partition_id", "token"], rows)
    expect("ci_builds", "token", "credential")
    out.append("CREATE TABLE audit_events (id bigint NOT NULL PRIMARY KEY, email varchar(120)) ENGINE=InnoDB "
               "PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (1000), PARTITION p1 VALUES LESS THAN MAXVALUE);")
    rows = []
    for i in (1, 2, 999, 1000, 1500):
        e = R.email()
        g.sensitive.add(e)
        rows.append([i, e])
    insert("audit_events", ["id", "email"], rows)
    expect("audit_events", "email", "HIPAA-6 email")
    out.append("CREATE TABLE user_sessions (user_id int NOT NULL, session_token varchar(64) NOT NULL) ENGINE=InnoDB "
               "PARTITION BY HASH (user_id) PARTITIONS 3;")
    rows = []
    for i in range(1, 7):
        t = R.alnum(40)
        g.sensitive.add(t)
        rows.append([i, t])
    insert("user_sessions", ["user_id", "session_token"], rows)
    expect("user_sessions", "session_token", "credential")

    for gi in range(groups):
        base = PEOPLE[gi % len(PEOPLE)]
        tname = base if gi < len(PEOPLE) else f"{base}_{gi}"
        spec = [("email", f"varchar(120){' NOT NULL' if gi % 2 == 0 else ''}", R.email, "HIPAA-6 email", True),
                ("first_name", "varchar(40)", lambda: R.r.choice(FIRST), "HIPAA-1", False)]
        if gi % 3 == 0:
            spec.append(("cell", "varchar(30)", R.phone, "HIPAA-4", False))
        if gi % 4 == 0:
            spec.append(("member_id", "varchar(20)", lambda: f"M{R.r.randint(10**7, 10**8)}", "HIPAA-9", False))
        if gi % 4 == 1:
            spec.append(("tax_identification_number", "varchar(20)", lambda: str(R.r.randint(10**8, 10**9)), "GDPR", False))
        if gi % 4 == 2:
            spec.append(("patient_id", "varchar(12)", lambda: f"P{R.r.randint(10**6, 10**7)}", "HIPAA-8", False))
        if gi % 5 == 0:
            spec.append(("encrypted_password", "varchar(128) NOT NULL", R.bcrypt, "credential", True))
            spec.append(("reset_password_token", "varchar(64)", lambda: R.alnum(32), "credential", True))
        if gi % 5 == 1:
            spec.append(("api_key", "varchar(255)", R.secret, "credential", True))
        spec.append(("mood", "enum('happy','sad','neutral') NOT NULL", lambda: R.r.choice(["happy", "sad"]), None, False))
        spec.append(("tokens_count", "int NOT NULL", lambda: R.r.randint(0, 9), None, False))
        spec.append(("created_at", "datetime NOT NULL", lambda: "2024-01-02 03:04:05", None, False))
        cols = ["id int NOT NULL AUTO_INCREMENT PRIMARY KEY"] + [f"{c} {ty}" for c, ty, *_ in spec]
        if gi % 2 == 0:
            cols.append("UNIQUE KEY uk_email (email)")
        if gi % 4 == 3:
            cols.append("location point NOT NULL")
        out.append(f"CREATE TABLE {tname} ({', '.join(cols)}) ENGINE=InnoDB;")
        for c, _, _, exp_, _ in spec:
            if exp_:
                expect(tname, c, exp_)
        rows = []
        n = R.r.randint(3, 5)
        for i in range(n):
            row = []
            for c, ty, gen, exp_, sens in spec:
                v = gen()
                if sens:
                    g.sensitive.add(v)
                row.append(v)
            if gi % 4 == 3:
                row.append(RawSQL(f"POINT({R.r.uniform(-80, 80):.4f}, {R.r.uniform(-170, 170):.4f})"))
            rows.append(row)
        insert(tname, [c for c, *_ in spec] + (["location"] if gi % 4 == 3 else []), rows)
        singular = base[:-1]
        out.append(f"CREATE TABLE {tname}_events (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, {singular}_id int NOT NULL, "
                   f"kind varchar(20), FOREIGN KEY ({singular}_id) REFERENCES {tname}(id)) ENGINE=InnoDB;")
        insert(f"{tname}_events", [f"{singular}_id", "kind"], [[R.r.randint(1, n), "visit"] for _ in range(3)])
        out.append(f"CREATE TABLE {tname}_notes (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, {singular}_id int, body text) ENGINE=InnoDB;")
        insert(f"{tname}_notes", [f"{singular}_id", "body"], [[R.r.randint(1, n), "all good"] for _ in range(2)])
    g.sql = "\n".join(out) + "\n"
    return g
