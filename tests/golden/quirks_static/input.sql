--
-- PostgreSQL database dump
--

\restrict g0lden

SET standard_conforming_strings = on;

/* a /* nested */ block comment; with ' quote */
CREATE TABLE "Sales"."Order Items" (
    id integer NOT NULL,
    "select" text,
    total integer GENERATED ALWAYS AS ((id * 2)) STORED,
    email character varying(40)
);

CREATE FUNCTION public.f() RETURNS text
    LANGUAGE sql
    AS $_$ SELECT 'COPY "Sales"."Order Items" (id, "select", email) FROM stdin;'; $_$;

COPY "Sales"."Order Items" (id, "select", email) FROM stdin;
1	\101\x41\tx	a@b.com
2	\N	\\N
\.

INSERT INTO "Sales"."Order Items" (id, "select", email) VALUES
	(3, E'it\'s\n', 'c@d.com'),
	(4, NULL, 'O''Hara@x.org');

\unrestrict g0lden
