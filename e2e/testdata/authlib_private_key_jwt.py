"""Gets a client_credentials token from authsuite with authlib's private_key_jwt client authentication
(RFC 7523 §2.2): OAuth2Session signs a client assertion with the client's private key for every token
request. Prints the token response as JSON.

usage: authlib_private_key_jwt.py TOKEN_URL CLIENT_ID PRIVATE_KEY_PEM_FILE KID SCOPE
"""
import json
import sys
import time

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

token_url, client_id, key_file, kid, scope = sys.argv[1:6]
with open(key_file) as f:
    private_key = f.read()

# authlib's assertions last an hour by default; authsuite accepts at most five minutes, so exp is set.
auth = PrivateKeyJWT(token_url, claims={"exp": int(time.time()) + 120}, headers={"kid": kid}, alg="RS256")
session = OAuth2Session(client_id, private_key, token_endpoint_auth_method=auth, scope=scope)
token = session.fetch_token(token_url, grant_type="client_credentials")
print(json.dumps(token))
