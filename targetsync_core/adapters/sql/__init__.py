"""What the relational adapters share: connections and errors (``server``), the
applied-file record and the lease (``sqlapply``), reflection and DDL through SQLAlchemy
(``sqla``), catalog rows (``catalog``), canonical text lines (``canonical``), foreign-key
checks (``references``), the apply statements rendered per dialect (``statements``) and
the kit a new relational adapter is built on (``kit``)."""
