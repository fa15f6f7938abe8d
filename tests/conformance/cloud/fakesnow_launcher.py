"""Runs fakesnow's server (``fakesnow -s -p PORT``) with two fixes, from the stand-in's own
venv (``tests.conformance.cloud.snowflake``):

* a NULL timestamp leaves fakesnow as the struct Snowflake's result format uses for
  timestamps without a null mask, which the connector then reads as 1970-01-01: those
  structs are marked NULL, as Snowflake does;
* fakesnow keeps a declared ``NUMBER(38,0)`` in a 64-bit BIGINT (so that its results read
  as int64 in pandas), which cannot hold what Snowflake's can: it is kept a DECIMAL(38,0).

Nothing else of fakesnow is changed."""
import sys

import pyarrow as pa
import pyarrow.compute as pc

import fakesnow.arrow as fakesnow_arrow
import fakesnow.transforms as fakesnow_transforms
from fakesnow.cli import main

_struct = fakesnow_arrow.timestamp_to_sf_struct


def timestamp_to_sf_struct(ts):
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    if not ts.null_count:
        return _struct(ts)
    made = _struct(pc.fill_null(ts, pa.scalar(0, type=ts.type)))
    return pa.StructArray.from_arrays(made.flatten(), fields=list(made.type), mask=ts.is_null())


fakesnow_arrow.timestamp_to_sf_struct = timestamp_to_sf_struct

_integer_precision = fakesnow_transforms.integer_precision


def integer_precision(expression):
    if getattr(expression, "expressions", None) == fakesnow_transforms.transforms.NUMBER_38_0:
        return expression
    return _integer_precision(expression)


fakesnow_transforms.integer_precision = integer_precision

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
