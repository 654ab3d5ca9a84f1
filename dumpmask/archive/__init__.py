"""pg_dump archives: the custom (-Fc) and directory (-Fd) formats, read and written.

`format` holds the format itself (header, TOC entries, data blocks, compression), pure: it
imports nothing of the engine. The engine side, which masks an archive's entries, is
`dumpmask.pipeline`.
"""
