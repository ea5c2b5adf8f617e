"""Code shared by the client (mobile/) and the server: the sync wire format, and later the geofence rule.

Pure Python with no third-party imports beyond what the phone build ships, so both sides import it.
"""
