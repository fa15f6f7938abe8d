"""The JSON-schema validator ``schema --apply`` gives each collection it creates.

The DSN query's ``targetsyncValidator`` chooses (and is not passed on to pymongo):
``strict`` (the default) creates the collection with a ``$jsonSchema`` validator, level
strict, action error: the server refuses a document that breaks it (code 121,
DocumentValidationFailure); ``warn`` the same validator with action warn (the server logs
the document and keeps it); ``off`` none. On a collection that exists, ``collMod`` sets
what the DSN asks now (``off`` removes a validator).

The schema: every column is ``required`` (NULL is stored as null, never absent), with
the BSON types the adapter writes its kind as (``adapter.TO_BSON``, or pymongo for a value
written as it is: an int as int32 where it fits, else int64), plus ``null`` where the
column is nullable. A JSON column allows every type its values can take, null among them
(a JSON ``null`` is stored as null). ``_id`` is not listed; fields beyond the columns
are allowed.
"""
from __future__ import annotations

from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

PARAM = "targetsyncValidator"
#: mode → the validationAction it sets (None: no validator)
MODES = {"strict": "error", "warn": "warn", "off": None}
DEFAULT = "strict"

#: kind → the BSON types the adapter writes it as (decimals: :func:`bson_types`)
BSON_TYPES: dict[Kind, list[str]] = {
    Kind.BOOLEAN: ["bool"], Kind.INT16: ["int"], Kind.UINT16: ["int"], Kind.INT32: ["int"],
    Kind.UINT32: ["int", "long"], Kind.INT64: ["int", "long"], Kind.UINT64: ["decimal"],
    Kind.FLOAT32: ["double"], Kind.FLOAT64: ["double"],
    Kind.CHAR: ["string"], Kind.VARCHAR: ["string"], Kind.TEXT: ["string"], Kind.TIME: ["string"],
    Kind.BINARY: ["binData"], Kind.VARBINARY: ["binData"], Kind.BLOB: ["binData"], Kind.UUID: ["binData"],
    Kind.DATE: ["date"], Kind.TIMESTAMP: ["date"], Kind.TIMESTAMPTZ: ["date"],
    Kind.JSON: ["object", "array", "string", "int", "long", "double", "bool", "null"],
}
#: significant digits a Decimal128 holds; a longer decimal is written as its text
DECIMAL128_DIGITS = 34


def bson_types(col: Column) -> list[str]:
    if col.kind is Kind.DECIMAL:
        exact = col.precision is not None and col.precision <= DECIMAL128_DIGITS
        types = ["decimal"] if exact else ["decimal", "string"]
    else:
        types = BSON_TYPES[col.kind]
    return types + ["null"] if col.nullable and "null" not in types else types


def json_schema(table: Table) -> dict:
    return {"$jsonSchema": {"bsonType": "object", "required": [c.name for c in table.columns],
                            "properties": {c.name: {"bsonType": bson_types(c)} for c in table.columns}}}


def options(table: Table, mode: str) -> dict:
    """The validation options of ``create`` (and ``collMod``) for ``mode``; none for off."""
    action = MODES[mode]
    if action is None:
        return {}
    return {"validator": json_schema(table), "validationLevel": "strict", "validationAction": action}
