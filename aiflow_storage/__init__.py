"""Storage for aiflow: the SQL store (``aiflow_storage.sql``) and blob managers (``aiflow_storage.blob``)."""
