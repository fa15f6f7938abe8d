"""Staging areas that cloud targets bulk-load change files from (S3: :mod:`.s3`)."""
