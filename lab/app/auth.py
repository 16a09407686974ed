"""auth: logins against the users table, sessions in redis, tokens signed with a key read from a secret file.

POST /login {username, password} -> 200 {token, user} | 401
GET  /session/<token>            -> 200 {user} | 401
POST /logout/<token>             -> 204
"""

import hashlib
import hmac
import os
import secrets

from flask import Flask, jsonify, request

from common import cache, db, instrument

app = Flask(__name__)
instrument(app, "auth")

# Read once per worker at start: the only time auth touches this file in normal operation.
with open(os.environ["LAB_AUTH_KEY_FILE"], "rb") as f:
    SIGNING_KEY = f.read().strip()

SESSION_TTL = 1800


def password_hash(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), 1000).hex()


def sign(body):
    return hmac.new(SIGNING_KEY, body.encode(), hashlib.sha256).hexdigest()[:32]


@app.post("/login")
def login():
    body = request.get_json(force=True, silent=True) or {}
    username, password = str(body.get("username", "")), str(body.get("password", ""))
    row = (
        db()
        .execute("SELECT id, password_hash, salt, full_name FROM users WHERE username = %s", (username,))
        .fetchone()
    )
    if row is None or not hmac.compare_digest(row[1], password_hash(password, row[2])):
        return jsonify(error="invalid credentials"), 401
    uid = row[0]
    payload = f"{uid}.{secrets.token_hex(12)}"
    token = f"{payload}.{sign(payload)}"
    cache().setex(f"session:{token}", SESSION_TTL, f"{uid}:{username}")
    return jsonify(token=token, user={"id": uid, "username": username, "name": row[3]})


@app.get("/session/<token>")
def session(token):
    payload, _, mac = token.rpartition(".")
    if not payload or not hmac.compare_digest(mac, sign(payload)):
        return jsonify(error="bad token"), 401
    value = cache().get(f"session:{token}")
    if value is None:
        return jsonify(error="expired"), 401
    uid, _, username = value.partition(":")
    return jsonify(user={"id": int(uid), "username": username})


@app.post("/logout/<token>")
def logout(token):
    cache().delete(f"session:{token}")
    return "", 204


@app.get("/healthz")
def healthz():
    return "ok"
