"""Local S3: moto's S3 plus what it only records (default encryption, SSE-KMS keys that matter, access logs)."""
