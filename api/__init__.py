"""What every app's API shares: JSON, scopes, throttling, idempotent POSTs, error schemas.

It sits below the apps and imports none of them.
"""
