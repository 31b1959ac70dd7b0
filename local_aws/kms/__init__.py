"""Local KMS: moto's keys, with key states that matter (a disabled key encrypts and decrypts nothing)."""
