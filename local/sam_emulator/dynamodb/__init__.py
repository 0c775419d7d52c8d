"""DynamoDB: items and stream records kept in the state folder (moto serves the API)."""
