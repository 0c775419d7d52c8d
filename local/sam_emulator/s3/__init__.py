"""S3: objects kept in the state folder (moto serves the API)."""
