"""Detection by column name beyond English: the words schemas are written in most often
(Spanish, Portuguese, French, German, Italian, Dutch, Polish, Swedish, Russian, Chinese,
Japanese), accents folded (prénom = prenom), and the words that mean something else in another
language kept apart (French `nom_produit`, Spanish `nombre` on a table of products). Then the
path a new user with such a schema takes, on the real servers: scan --write-rules, a --strict
masking run with those rules, a restore, and no original value of a detected column left."""
from __future__ import annotations

import json

import pytest

from dumpmask.detect import detect_by_name, fold, is_people_table
from dumpmask.schema import Column

FOUND = [
    # (column, table, category, suggested)
    ("prénom", "clientes", "HIPAA-1 name", "faker.firstName"),
    ("Vorname", "kunden", "HIPAA-1 name", "faker.firstName"),
    ("Nachname", "kunden", "HIPAA-1 name", "faker.lastName"),
    ("apellidos", "pedidos", "HIPAA-1 name", "faker.lastName"),
    ("sobrenome", "x", "HIPAA-1 name", "faker.lastName"),
    ("cognome", "x", "HIPAA-1 name", "faker.lastName"),
    ("achternaam", "x", "HIPAA-1 name", "faker.lastName"),
    ("nazwisko", "x", "HIPAA-1 name", "faker.lastName"),
    ("имя", "пользователи", "HIPAA-1 name", "faker.firstName"),
    ("фамилия", "x", "HIPAA-1 name", "faker.lastName"),
    ("氏名", "顧客", "HIPAA-1 name", "faker.name"),
    ("姓名", "客户", "HIPAA-1 name", "faker.name"),
    ("nombre", "clientes", "HIPAA-1 name", "faker.name"),
    ("nombre", "clientes_activos", "HIPAA-1 name", "faker.name"),
    ("nom", "clients", "HIPAA-1 name", "faker.lastName"),
    ("nombre_cliente", "facturas", "HIPAA-1 name", "faker.name"),
    ("nome_do_paciente", "consultas", "HIPAA-1 name", "faker.name"),
    ("nombre_completo", "x", "HIPAA-1 name", "faker.name"),
    ("teléfono", "x", "HIPAA-4 phone", "faker.phone"),
    ("telefone_celular", "x", "HIPAA-4 phone", "faker.phone"),
    ("Telefonnummer", "x", "HIPAA-4 phone", "faker.phone"),
    ("電話番号", "顧客", "HIPAA-4 phone", "faker.phone"),
    ("correo_electronico", "x", "HIPAA-6 email", "faker.email"),
    ("courriel", "x", "HIPAA-6 email", "faker.email"),
    ("correo_direccion", "x", "HIPAA-6 email", "faker.email"),     # an address word loses to a match beside it
    ("e-mail адрес", "клиенты", "HIPAA-6 email", "faker.email"),
    ("mail", "users", "HIPAA-6 email", "faker.email"),
    ("dirección", "x", "HIPAA-2 geographic", "faker.address"),
    ("straße", "kunden", "HIPAA-2 geographic", "faker.address"),
    ("endereço", "x", "HIPAA-2 geographic", "faker.address"),
    ("ciudad", "x", "HIPAA-2 geographic", "faker.city"),
    ("Wohnort", "x", "HIPAA-2 geographic", "faker.city"),
    ("código_postal", "x", "HIPAA-2 geographic", "faker.postcode"),
    ("cep", "x", "HIPAA-2 geographic", "faker.postcode"),
    ("fecha_nacimiento", "pacientes", "GDPR date of birth", "faker.date"),
    ("Geburtsdatum", "Mitarbeiter", "GDPR date of birth", "faker.date"),
    ("date_de_naissance", "x", "GDPR date of birth", "faker.date"),
    ("data_nascimento", "x", "GDPR date of birth", "faker.date"),
    ("senha", "usuarios", "credential password", "hash"),
    ("contraseña", "usuarios", "credential password", "hash"),
    ("Passwort", "x", "credential password", "hash"),
    ("sexo", "pacientes", "GDPR gender", "keep"),
    ("salario", "empleados", "GDPR salary", "redact"),
    ("numero_seguridad_social", "x", "GDPR national id", "hash"),
]

NOT_FOUND = [
    ("nombre", "productos"),            # a product's name
    ("nom_produit", "produits"),
    ("nombre_empresa", "proveedores"),
    ("nome", "categorias"),
    ("email_enviado_fecha", "x"),       # when an e-mail was sent: a time
    ("telefono_verificado", "x"),       # a flag
    ("ciudad_id", "clientes"),          # a key into another table
]


@pytest.mark.parametrize("column, table, category, suggested", FOUND)
def test_a_column_named_in_another_language_is_found(column, table, category, suggested):
    f = detect_by_name(column, None, table)
    assert f is not None, (column, table)
    assert (f.category, f.suggested) == (category, suggested)


@pytest.mark.parametrize("column, table", NOT_FOUND)
def test_words_that_mean_something_else_are_left_alone(column, table):
    assert detect_by_name(column, None, table) is None


def test_the_column_type_still_decides():
    """French `nombre` is a count: an integer column of that name is no person's name."""
    assert detect_by_name("nombre", Column(name="nombre", kind="int"), "clients") is None
    assert detect_by_name("teléfono", Column(name="teléfono", kind="bool"), "x") is None


def test_fold_and_people_tables():
    assert fold("prénom") == "prenom" and fold("straße") == "strasse" and fold("hasło") == "haslo"
    assert fold("użytkownik") == "uzytkownik" and fold("имя") == "имя" and fold("email") == "email"
    for t in ("clientes", "public.pacientes", "Kunden", "utilisateurs", "клиенты", "顧客", "clientes_activos"):
        assert is_people_table(t), t
    for t in ("productos", "produits", "facturas_lineas"):
        assert not is_people_table(t), t


# --------------------------------------------------------------------------- real servers

ROWS = [  # (first, last, email, phone, street, city, zip, birth)
    ("José", "Núñez", "jose.nunez@correo.es", "+34 612 345 678", "Calle Mayor 1", "Sevilla", "41001", "1980-02-03"),
    ("Zoë", "Müller-Lüdenscheidt", "zoe.mueller@example.de", "+49 30 1234567", "Hauptstraße 5", "München", "80331", "1975-12-30"),
    ("Ана", "Иванова", "ana.ivanova@example.ru", "+7 495 123-45-67", "ул. Тверская, 7", "Москва", "125009", "1990-07-15"),
]


def _pg_schema() -> str:
    values = ",\n".join(f"({i}, '{f}', '{ln}', '{e}', '{p}', '{s}', '{c}', '{z}', '{b}', {i * 100})"
                        for i, (f, ln, e, p, s, c, z, b) in enumerate(ROWS, 1))
    return ('CREATE TABLE public.clientes (id integer PRIMARY KEY, nombre text, apellidos text, '
            'correo_electronico text, "teléfono" text, "dirección" text, ciudad text, codigo_postal text, '
            f'fecha_nacimiento date, nombre_count integer);\nINSERT INTO public.clientes VALUES\n{values};\n'
            'CREATE TABLE public."Kunden" (id integer PRIMARY KEY, "Vorname" text, "Nachname" text, "Straße" text);\n'
            "INSERT INTO public.\"Kunden\" VALUES (1, 'Zoë', 'Müller', 'Hauptstraße 5');\n"
            "CREATE TABLE public.productos (id integer PRIMARY KEY, nombre text);\n"
            "INSERT INTO public.productos VALUES (1, 'Mesa de roble');\n")


def _my_schema() -> str:
    values = ",\n".join(f"({i}, '{f}', '{ln}', '{e}', '{p}', '{s}', '{c}', '{z}', '{b}')"
                        for i, (f, ln, e, p, s, c, z, b) in enumerate(ROWS, 1))
    return ("CREATE TABLE clientes (id int PRIMARY KEY, nombre varchar(80), apellidos varchar(80), "
            "correo_electronico varchar(120), `teléfono` varchar(40), `dirección` varchar(120), ciudad varchar(60), "
            f"codigo_postal varchar(10), fecha_nacimiento date) DEFAULT CHARSET=utf8mb4;\nINSERT INTO clientes VALUES\n{values};\n"
            "CREATE TABLE productos (id int PRIMARY KEY, nombre varchar(80)) DEFAULT CHARSET=utf8mb4;\n"
            "INSERT INTO productos VALUES (1, 'Mesa de roble');\n")


def _scan_mask(dm, tmp_path, dump: bytes):
    src = tmp_path / "orig.sql"
    src.write_bytes(dump)
    rules = tmp_path / "rules.json"
    cp = dm("scan", src, "--write-rules", rules)
    assert cp.returncode == 0, cp.stderr.decode()
    written = {(t["tableName"], c["column"]) for t in json.loads(rules.read_bytes())["tables"]
               for c in t["columnMutations"]}
    m = dm("-q", "--strict", "-c", rules, src)
    assert m.returncode == 0, m.stderr.decode()
    return written, m.stdout


def test_a_spanish_german_and_russian_schema_is_scanned_masked_and_restored_in_postgres(dm, tmp_path, pg_server):
    db = pg_server.createdb("langs_src")
    out_db = pg_server.createdb("langs_out")
    try:
        pg_server.psql(db, _pg_schema())
        written, masked = _scan_mask(dm, tmp_path, pg_server.dump(db))
        tables = {t.split(".")[-1].strip('"') for t, _ in written}
        cols = {c.strip("\"`") for _, c in written}
        assert {"nombre", "apellidos", "correo_electronico", "teléfono", "dirección", "ciudad", "codigo_postal",
                "fecha_nacimiento", "Vorname", "Nachname", "Straße"} <= cols, sorted(cols)
        assert "productos" not in tables and "nombre_count" not in cols
        for row in ROWS:
            for value in row[:7]:
                assert value.encode() not in masked, value
        assert b"Mesa de roble" in masked
        pg_server.restore(out_db, masked)
        assert pg_server.count(out_db, "public.clientes") == len(ROWS)
        assert pg_server.scalar(out_db, "SELECT sum(nombre_count) FROM public.clientes") == "600"
    finally:
        pg_server.dropdb(db)
        pg_server.dropdb(out_db)


def test_a_spanish_schema_is_scanned_masked_and_restored_in_mariadb(dm, tmp_path, my_server):
    db = my_server.create("langs_src")
    out_db = my_server.create("langs_out")
    try:
        my_server.sql(db, _my_schema())
        written, masked = _scan_mask(dm, tmp_path, my_server.dump(db))
        cols = {c.strip("\"`") for _, c in written}
        assert {"nombre", "apellidos", "correo_electronico", "teléfono", "dirección", "ciudad", "codigo_postal",
                "fecha_nacimiento"} <= cols, sorted(cols)
        assert not any(t.strip("`").endswith("productos") for t, _ in written)
        for row in ROWS:
            for value in row[:7]:
                assert value.encode() not in masked, value
        my_server.restore(out_db, masked)
        assert my_server.count(out_db, "clientes") == len(ROWS)
    finally:
        my_server.drop(db)
        my_server.drop(out_db)
