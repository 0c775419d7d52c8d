"""Data access: the only place in the domain package that imports boto3."""
