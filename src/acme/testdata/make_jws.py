#!/usr/bin/env python3
# Writes request bodies as an independent ACME client would send them (Python's
# `cryptography`, not OpenSSL through our code): jws_test.cpp checks that they parse and
# verify, and fuzz/corpus/acme_jws holds copies as seeds. Run it here; the keys are new
# each time, so the files change but stay valid.
import base64
import hashlib
import hmac
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def num(i, size=None):
    return i.to_bytes(size or (i.bit_length() + 7) // 8, "big")


def jwk(key):
    p = key.public_key().public_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        return {"kty": "RSA", "n": b64(num(p.n)), "e": b64(num(p.e))}
    size = 32 if key.curve.name == "secp256r1" else 48
    crv = "P-256" if size == 32 else "P-384"
    return {"kty": "EC", "crv": crv, "x": b64(num(p.x, size)), "y": b64(num(p.y, size))}


def sign(key, alg, members, payload):
    members = dict(members, alg=alg)
    protected = b64(json.dumps(members, separators=(",", ":")).encode())
    payload64 = b64(payload.encode()) if payload else ""
    data = (protected + "." + payload64).encode()
    if alg == "RS256":
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "HS256":
        sig = hmac.new(key, data, hashlib.sha256).digest()
    else:
        size = 32 if alg == "ES256" else 48
        digest = hashes.SHA256() if alg == "ES256" else hashes.SHA384()
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
        sig = num(r, size) + num(s, size)
    return {"protected": protected, "payload": payload64, "signature": b64(sig)}


def write(name, value):
    with open(name, "w") as f:
        f.write(json.dumps(value, separators=(",", ":")))


p256 = ec.generate_private_key(ec.SECP256R1())
p384 = ec.generate_private_key(ec.SECP384R1())
rsa2048 = rsa.generate_private_key(65537, 2048)
nonce = "bm9uY2U"
write("new_account_es256", sign(p256, "ES256", {"nonce": nonce, "url": "https://ca.example/acme/new-account", "jwk": jwk(p256)},
                                 '{"termsOfServiceAgreed":true,"contact":["mailto:a@example.com"]}'))
write("post_as_get_rs256", sign(rsa2048, "RS256", {"nonce": nonce, "url": "https://ca.example/acme/order/1", "jwk": jwk(rsa2048)}, ""))
write("new_order_es384", sign(p384, "ES384", {"nonce": nonce, "url": "https://ca.example/acme/new-order", "jwk": jwk(p384)},
                               '{"identifiers":[{"type":"dns","value":"a.example"}]}'))
write("eab_hs256", sign(b"hmac key", "HS256", {"kid": "kid", "url": "https://ca.example/acme/new-account"}, json.dumps(jwk(p256))))
write("key_change_inner", sign(p384, "ES384", {"url": "https://ca.example/acme/key-change", "jwk": jwk(p384)},
                                json.dumps({"account": "https://ca.example/acme/acct/1", "oldKey": jwk(p256)})))
write("jwk_rsa", jwk(rsa2048))
write("jwk_p256", jwk(p256))
